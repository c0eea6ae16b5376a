//go:build unix

package runtime

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Slab chunks live outside the Go heap, in anonymous memory mapped a
// chunkArena at a time: the collector neither counts them toward the
// heap's growth (which paced a collection to twice the calls held) nor
// sees them at all. A chunk given back returns its pages to the system
// at once (madvise MADV_DONTNEED) and is kept, as address space only, for
// the next chunk any store needs, unless the memory reserve
// (ReserveMemory) keeps it.
const chunkArena = 64 * slabChunkSize // 16 MiB of address space per mmap

var chunkPool struct {
	mu sync.Mutex
	// warm are chunks whose pages are the process's (touched, kept for
	// the reserve); cold are address space only.
	warm, cold [][]byte
	// out is how many chunks stores hold; keep is how many chunks the
	// reserve keeps in memory, out or warm.
	out, keep int
}

// newChunk returns slabChunkSize bytes of memory the collector does not
// manage (zeros, or a reserved chunk's earlier bytes); nil when the
// system refuses (the caller then takes them from the heap).
func newChunk() []byte {
	chunkPool.mu.Lock()
	defer chunkPool.mu.Unlock()
	if n := len(chunkPool.warm); n > 0 {
		b := chunkPool.warm[n-1]
		chunkPool.warm = chunkPool.warm[:n-1]
		chunkPool.out++
		return b
	}
	b := coldChunk()
	if b != nil {
		chunkPool.out++
	}
	return b
}

// coldChunk takes a chunk of address space from the pool, mapping an
// arena when the pool has none; nil when the system refuses. The caller
// holds chunkPool.mu.
func coldChunk() []byte {
	if n := len(chunkPool.cold); n > 0 {
		b := chunkPool.cold[n-1]
		chunkPool.cold = chunkPool.cold[:n-1]
		return b
	}
	arena, err := unix.Mmap(-1, 0, chunkArena, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	for off := chunkArena - slabChunkSize; off > 0; off -= slabChunkSize {
		chunkPool.cold = append(chunkPool.cold, arena[off:off+slabChunkSize:off+slabChunkSize])
	}
	return arena[:slabChunkSize:slabChunkSize]
}

// freeChunk gives a chunk from newChunk back: its pages to the system
// (unless the reserve keeps them), its addresses to the pool. Nothing may
// read it after.
func freeChunk(b []byte) {
	chunkPool.mu.Lock()
	chunkPool.out--
	if chunkPool.out+len(chunkPool.warm) < chunkPool.keep {
		chunkPool.warm = append(chunkPool.warm, b)
		chunkPool.mu.Unlock()
		return
	}
	chunkPool.mu.Unlock()
	toCold(b)
}

// toCold gives chunks' pages back to the system (the next use reads
// zeros) and their addresses to the pool. The caller does not hold
// chunkPool.mu: madvise takes a while for many chunks.
func toCold(chunks ...[]byte) {
	for _, b := range chunks {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
	chunkPool.mu.Lock()
	chunkPool.cold = append(chunkPool.cold, chunks...)
	chunkPool.mu.Unlock()
}

// ReserveMemory makes n bytes of memory for stored calls (the memory
// store's and the journal's, of every store in the process) the
// process's at once, and keeps them: stored calls then land in pages the
// system has already provided, and calls that end leave their pages for
// the next ones instead of giving them back. On a virtual machine whose
// host takes back the memory its guest frees (a balloon's free page
// reporting), a page the process touches for the first time can cost
// the host a fault of 10–50 µs; a store growing by a million calls pays
// it for each 4 KiB of them, on the webhooks' path. The reserve pays it
// here, once.
//
// ReserveMemory returns when the memory is touched, with the bytes it
// touched; a later call sets a new size (a smaller one gives back at
// once the chunks no store holds beyond it, the rest as calls leave). It is for a server's start, in a goroutine of
// its own: touching a few GiB takes seconds.
func ReserveMemory(n int64) (touched int64, err error) {
	keep := n / slabChunkSize
	if n%slabChunkSize != 0 {
		keep++ // a part of a chunk is a chunk
	}
	chunkPool.mu.Lock()
	chunkPool.keep = int(min(keep, math.MaxInt32))
	// A smaller reserve gives back at once the warm chunks no store holds
	// beyond it: nothing else would (newChunk takes them first, but a
	// store that does not grow never takes them).
	var excess [][]byte
	if k := max(chunkPool.keep-chunkPool.out, 0); len(chunkPool.warm) > k {
		excess = slices.Clone(chunkPool.warm[k:])
		clear(chunkPool.warm[k:])
		chunkPool.warm = chunkPool.warm[:k]
	}
	chunkPool.mu.Unlock()
	toCold(excess...)
	for {
		chunkPool.mu.Lock()
		if chunkPool.out+len(chunkPool.warm) >= chunkPool.keep {
			chunkPool.mu.Unlock()
			return touched, nil
		}
		b := coldChunk()
		chunkPool.mu.Unlock()
		if b == nil {
			return touched, errors.New("the system refused memory for the reserve")
		}
		if err := touch(b); err != nil {
			// Out of memory (or a limit): say so, rather than write to
			// each page and meet the OOM killer.
			toCold(b)
			return touched, fmt.Errorf("the system refused memory for the reserve: %w", err)
		}
		touched += int64(len(b))
		chunkPool.mu.Lock()
		chunkPool.warm = append(chunkPool.warm, b)
		chunkPool.mu.Unlock()
	}
}

// touch makes b's pages the process's: one call to the kernel where it
// can (populate), else, where the kernel cannot, a write to each page.
func touch(b []byte) error {
	if err := populate(b); !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
	return nil
}

const chunksOffHeap = true
