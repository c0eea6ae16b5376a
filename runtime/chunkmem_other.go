//go:build !unix

package runtime

import "errors"

// Elsewhere, slab chunks are heap memory the collector frees.
func newChunk() []byte { return nil }
func freeChunk([]byte) {}

const chunksOffHeap = false

// ReserveMemory has nothing to reserve where chunks are heap memory.
func ReserveMemory(n int64) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	return 0, errors.New("a memory reserve needs a Unix system")
}
