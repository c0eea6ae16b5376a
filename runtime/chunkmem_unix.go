//go:build unix

package runtime

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Slab chunks live outside the Go heap, in anonymous memory mapped a
// chunkArena at a time: the collector neither counts them toward the
// heap's growth (which paced a collection to twice the calls held) nor
// sees them at all. A chunk given back returns its pages to the system
// at once (madvise MADV_DONTNEED) and is kept, as address space only, for
// the next chunk any store needs.
const chunkArena = 64 * slabChunkSize // 16 MiB of address space per mmap

var chunkPool struct {
	mu   sync.Mutex
	free [][]byte
}

// newChunk returns slabChunkSize bytes of zeroed memory the collector
// does not manage; nil when the system refuses (the caller then takes
// them from the heap).
func newChunk() []byte {
	chunkPool.mu.Lock()
	defer chunkPool.mu.Unlock()
	if n := len(chunkPool.free); n > 0 {
		b := chunkPool.free[n-1]
		chunkPool.free = chunkPool.free[:n-1]
		return b
	}
	arena, err := unix.Mmap(-1, 0, chunkArena, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	for off := chunkArena - slabChunkSize; off > 0; off -= slabChunkSize {
		chunkPool.free = append(chunkPool.free, arena[off:off+slabChunkSize:off+slabChunkSize])
	}
	return arena[:slabChunkSize:slabChunkSize]
}

// freeChunk gives a chunk from newChunk back: its pages to the system,
// its addresses to the pool. Nothing may read it after.
func freeChunk(b []byte) {
	_ = unix.Madvise(b, unix.MADV_DONTNEED) // the next use reads zeros either way
	chunkPool.mu.Lock()
	chunkPool.free = append(chunkPool.free, b)
	chunkPool.mu.Unlock()
}

const chunksOffHeap = true
