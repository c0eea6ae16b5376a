package runtime

import (
	"encoding/binary"
	goruntime "runtime"
	"slices"
	"sync/atomic"
)

// slab keeps byte blocks in large chunks, so that a million stored calls
// are a few thousand objects rather than millions, and a block is named
// by a blockRef, a plain number. A memory store's chunks are outside the
// Go heap (initSlab, chunkmem_unix.go): the collector never sees
// them, and the heap it paces its collections by is the webhooks'
// garbage, not twice the calls held. Each chunk serves blocks of one size
// class; a chunk whose blocks are all free is given back, its pages to
// the system at once. Measured with wrk at about 32,000 answers a second
// for 20 s on the memory store (630 k calls held): 2.16 GB resident with
// the chunks on the heap, 1.58 GB off it, at the same throughput.
//
// A slab is not safe for concurrent use: the memory store locks around it.
type slab struct {
	*slabTables
	// held is the bytes of the blocks handed out and not freed: the data
	// the slab holds. Atomic so that it can be read without the lock.
	held atomic.Int64
	// deferred: an off-heap chunk whose last block is freed goes to
	// retired instead of back to the pool at once, for the owner to give
	// back (freeChunk) once it has unlocked. Giving a chunk back is a
	// system call (madvise) that took up to 10 ms on a busy virtual
	// machine; the memory store's sweep, which frees chunks by the
	// hundred, does it outside its lock (Memory.Sweep).
	deferred bool
	retired  [][]byte
}

// slabTables is a slab's chunks and big blocks, apart from the slab so
// that the cleanup of the store that holds the slab can give its
// off-heap chunks back (freeChunks) once the store is unreachable.
type slabTables struct {
	classes []slabClass       // one per slabSizes
	big     map[uint32][]byte // blocks over the largest class: few
	nextBig uint32
	// tables are chunks the store holding the slab uses for its own
	// tables of plain numbers (the memory store's slots), kept until the
	// store goes.
	tables [][]byte
	// offHeap: chunks come from newChunk, outside the Go heap, and the
	// store that made the slab registered freeChunks as its cleanup
	// (initSlab). Otherwise they are heap memory.
	offHeap bool
}

// initSlab makes s's tables, its chunks off-heap memory where the
// system offers it (chunkmem_unix.go), given back by a cleanup once
// owner (the store holding s) is unreachable.
func initSlab[T any](s *slab, owner *T) {
	s.slabTables = &slabTables{offHeap: chunksOffHeap}
	if chunksOffHeap {
		goruntime.AddCleanup(owner, (*slabTables).freeChunks, s.slabTables)
	}
}

// freeChunks gives back every off-heap chunk the tables hold: nothing
// reads them again.
func (t *slabTables) freeChunks() {
	if t.offHeap {
		for _, b := range t.tables {
			freeChunk(b)
		}
		t.tables = nil
	}
	for c := range t.classes {
		cl := &t.classes[c]
		for i, b := range cl.bufs {
			if b != nil && cl.chunks[i].offHeap {
				freeChunk(b)
				// The record too: a block freed after this (a misuse)
				// then fails on the nil bytes, rather than hand freeChunk
				// a nil chunk when the count of used blocks reaches 0.
				cl.bufs[i], cl.chunks[i] = nil, slabChunk{}
			}
		}
	}
}

// slabSizes are the block sizes: from 32 bytes, each an eighth (at least
// 16 bytes) above the last, to 64 KiB, so a block wastes at most an
// eighth of itself. Each is a multiple of 4, so every block of a chunk
// is 4-byte aligned (a chunk starts on a page).
var slabSizes = func() (sizes []int) {
	for size := slabMinBlock; size < slabMaxBlock; size = (size + max(size/8, 16) + 3) &^ 3 {
		sizes = append(sizes, size)
	}
	return append(sizes, slabMaxBlock)
}()

const (
	slabMaxBlock  = 64 << 10  // the largest block of a class
	slabChunkSize = 256 << 10 // bytes per chunk
	slabBig       = 255       // the class of a block kept in big
)

// slabClass is the chunks of one block size. A chunk's bytes are in
// bufs and its bookkeeping in chunks, by the chunk's number: chunks holds
// no pointers and a chunk's free blocks are listed in the blocks
// themselves, so the collector marks a class's few slices, not two
// objects per chunk (with two million calls held, 16,000 chunks made
// each collection's marking take 12 ms of CPU).
type slabClass struct {
	bufs    [][]byte    // nil where a chunk was given back
	chunks  []slabChunk // as bufs
	partial []uint32    // chunks with a free block
	holes   []uint32    // indexes of chunks given back, for reuse
	live    int         // chunks held
}

type slabChunk struct {
	// free is the first block of the chunk's free list (noBlock: none);
	// each free block's first two bytes name the next.
	free uint16
	// fresh is the first block never handed out: blocks from it to the
	// chunk's end are free too, and not listed.
	fresh   uint16
	used    uint16
	offHeap bool // the bytes are from newChunk
	// listed reports whether the chunk is in its class's partial list.
	listed bool
}

// noBlock ends a chunk's free list (a chunk has at most 8192 blocks).
const noBlock = 0xffff

// slabMinBlock is the smallest class's block size (slabSizes[0]).
const slabMinBlock = 32

// A chunk's block numbers, and fresh and used, which reach the count of
// its blocks, are uint16 and below noBlock: this fails to compile if a
// chunk of the smallest class holds more blocks than that.
const _ = uint16(noBlock - 1 - slabChunkSize/slabMinBlock)

// blockRef names a block: its class, chunk and number in the chunk, and
// the length of the bytes it holds.
type blockRef struct {
	class uint8
	block uint16
	chunk uint32
	n     uint32
}

// put stores a copy of b and returns its ref.
func (s *slab) put(b []byte) blockRef {
	ref := s.alloc(len(b))
	copy(s.bytes(ref), b)
	return ref
}

// alloc returns a block for n bytes (its bytes are not cleared).
func (s *slab) alloc(n int) blockRef {
	r := s.take(n)
	s.held.Add(int64(r.size()))
	return r
}

// size is the bytes of the block r names (its class's, or a big block's
// own).
func (r blockRef) size() int {
	if r.class == slabBig {
		return int(r.n)
	}
	return slabSizes[r.class]
}

// take is alloc without counting the block in held: for the tables of
// the store that holds the slab (its index), which are not the data it
// holds. Give it back with release.
func (s *slab) take(n int) blockRef {
	c, _ := slices.BinarySearch(slabSizes, n)
	if c == len(slabSizes) {
		if s.big == nil {
			s.big = map[uint32][]byte{}
		}
		s.nextBig++
		for s.big[s.nextBig] != nil {
			s.nextBig++
		}
		s.big[s.nextBig] = make([]byte, n)
		return blockRef{class: slabBig, chunk: s.nextBig, n: uint32(n)}
	}
	if s.classes == nil {
		s.classes = make([]slabClass, len(slabSizes))
	}
	cl := &s.classes[c]
	size := slabSizes[c]
	blocks := slabChunkSize / size
	for len(cl.partial) > 0 {
		i := cl.partial[len(cl.partial)-1]
		ch := &cl.chunks[i]
		var blk uint16
		switch {
		case ch.free != noBlock:
			blk = ch.free
			ch.free = binary.LittleEndian.Uint16(cl.bufs[i][int(blk)*size:])
		case int(ch.fresh) < blocks:
			blk = ch.fresh
			ch.fresh++
		default:
			cl.partial = cl.partial[:len(cl.partial)-1]
			ch.listed = false
			continue
		}
		ch.used++
		return blockRef{class: uint8(c), chunk: i, block: blk, n: uint32(n)}
	}
	buf, offHeap := s.newBuf()
	ch := slabChunk{free: noBlock, fresh: 1, used: 1, offHeap: offHeap}
	cl.live++
	var i uint32
	if len(cl.holes) > 0 {
		i = cl.holes[len(cl.holes)-1]
		cl.holes = cl.holes[:len(cl.holes)-1]
		cl.bufs[i], cl.chunks[i] = buf, ch
	} else {
		i = uint32(len(cl.chunks))
		cl.bufs = append(cl.bufs, buf)
		cl.chunks = append(cl.chunks, ch)
	}
	if blocks > 1 {
		cl.partial = append(cl.partial, i)
		cl.chunks[i].listed = true
	}
	return blockRef{class: uint8(c), chunk: i, block: 0, n: uint32(n)}
}

// newBuf returns a chunk's bytes: off the Go heap (newChunk) where the
// slab's chunks are and the system gives them, else from the heap;
// offHeap says which.
func (t *slabTables) newBuf() (b []byte, offHeap bool) {
	if t.offHeap {
		if b = newChunk(); b != nil {
			return b, true
		}
	}
	return make([]byte, slabChunkSize), false
}

// table returns a chunk of slabChunkSize bytes for the slab's owner to
// keep its own tables in, off the Go heap where the slab's chunks are;
// the owner must store no pointers in it. It is given back with the
// slab's chunks when the owner goes, not before. Its bytes are not
// cleared.
func (s *slab) table() []byte {
	b, offHeap := s.newBuf()
	if offHeap {
		s.tables = append(s.tables, b)
	}
	return b
}

// bytes returns the bytes of a block: valid until the block is freed.
func (s *slab) bytes(r blockRef) []byte {
	if r.class == slabBig {
		return s.big[r.chunk][:r.n]
	}
	size := slabSizes[r.class]
	off := int(r.block) * size
	return s.classes[r.class].bufs[r.chunk][off : off+int(r.n) : off+size]
}

// free gives a block back. Its first two bytes become the chunk's free
// list's.
func (s *slab) free(r blockRef) {
	s.held.Add(-int64(r.size()))
	s.release(r)
}

// release gives back a block from take.
func (s *slab) release(r blockRef) {
	if r.class == slabBig {
		delete(s.big, r.chunk)
		return
	}
	size := slabSizes[r.class]
	cl := &s.classes[r.class]
	ch := &cl.chunks[r.chunk]
	ch.used--
	if ch.used == 0 && cl.live > 1 {
		// Give the chunk back (one stays, so a class that empties and
		// fills again does not churn).
		cl.live--
		buf, offHeap, listed := cl.bufs[r.chunk], ch.offHeap, ch.listed
		cl.bufs[r.chunk], cl.chunks[r.chunk] = nil, slabChunk{}
		switch {
		case offHeap && s.deferred:
			s.retired = append(s.retired, buf)
		case offHeap:
			freeChunk(buf)
		}
		cl.holes = append(cl.holes, r.chunk)
		if listed {
			for j, i := range cl.partial {
				if i == r.chunk {
					cl.partial = append(cl.partial[:j], cl.partial[j+1:]...)
					break
				}
			}
		}
		return
	}
	binary.LittleEndian.PutUint16(cl.bufs[r.chunk][int(r.block)*size:], ch.free)
	ch.free = r.block
	if !ch.listed {
		cl.partial = append(cl.partial, r.chunk)
		ch.listed = true
	}
}

// inUse returns the bytes of the chunks and big blocks the slab holds.
func (s *slab) inUse() int {
	n := 0
	for c := range s.classes {
		for _, b := range s.classes[c].bufs {
			n += len(b)
		}
	}
	for _, b := range s.big {
		n += len(b)
	}
	return n
}
