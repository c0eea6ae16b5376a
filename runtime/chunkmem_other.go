//go:build !unix

package runtime

// Elsewhere, slab chunks are heap memory the collector frees.
func newChunk() []byte { return nil }
func freeChunk([]byte) {}

const chunksOffHeap = false

// ReserveMemory has nothing to reserve where chunks are heap memory.
func ReserveMemory(int64) (int64, error) { return 0, nil }
