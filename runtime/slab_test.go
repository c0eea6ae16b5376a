package runtime

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestSlab allocates and frees blocks of every class at random, each
// filled with its own bytes, and checks after every step's worth that
// every live block still holds them: a block's free-list link, written
// into its first bytes when it is freed, never lands in a live block,
// and no two live blocks overlap. Once everything is freed the slab
// holds one chunk per class it used, at most.
func TestSlab(t *testing.T) {
	sl := &slab{slabTables: &slabTables{offHeap: chunksOffHeap}}
	t.Cleanup(sl.freeChunks)
	type live struct {
		ref  blockRef
		fill byte
	}
	var blocks []live
	rnd := rand.New(rand.NewPCG(3, 4))
	size := func() int {
		switch rnd.IntN(4) {
		case 0:
			return 1 + rnd.IntN(40) // the smallest classes: many blocks a chunk
		case 1:
			return 900 + rnd.IntN(200)
		case 2:
			return slabMaxBlock - rnd.IntN(100) // four blocks a chunk
		default:
			return 1 + rnd.IntN(3000)
		}
	}
	check := func(step int) {
		t.Helper()
		for _, b := range blocks {
			got := sl.bytes(b.ref)
			if len(got) != int(b.ref.n) || bytes.Count(got, []byte{b.fill}) != len(got) {
				t.Fatalf("step %d: a live block of %d bytes (class %d, chunk %d, block %d) no longer holds its bytes",
					step, b.ref.n, b.ref.class, b.ref.chunk, b.ref.block)
			}
		}
	}
	for step := range 60_000 {
		if len(blocks) > 0 && rnd.IntN(100) < 48 {
			k := rnd.IntN(len(blocks))
			sl.free(blocks[k].ref)
			blocks[k] = blocks[len(blocks)-1]
			blocks = blocks[:len(blocks)-1]
		} else {
			n := size()
			fill := byte(1 + rnd.IntN(255))
			ref := sl.alloc(n)
			b := sl.bytes(ref)
			for i := range b {
				b[i] = fill
			}
			blocks = append(blocks, live{ref, fill})
		}
		if step%2000 == 0 {
			check(step)
		}
	}
	check(-1)
	for _, b := range blocks {
		sl.free(b.ref)
	}
	if held := sl.held.Load(); held != 0 {
		t.Fatalf("%d bytes held after every block was freed", held)
	}
	used := 0
	for c := range sl.classes {
		if sl.classes[c].chunks != nil {
			used++
		}
	}
	if in := sl.inUse(); in > used*slabChunkSize {
		t.Fatalf("%d bytes in chunks after every block was freed (%d classes used)", in, used)
	}
}
