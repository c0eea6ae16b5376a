//go:build !unix

package runtime

// Elsewhere, slab chunks are heap memory the collector frees.
func newChunk() []byte { return nil }
func freeChunk([]byte) {}

const chunksOffHeap = false
