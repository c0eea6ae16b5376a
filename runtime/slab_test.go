package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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

// slabInvariants walks every class's bookkeeping: free lists, fresh,
// used, partial/listed, holes, live. live is the set of refs handed out.
func slabInvariants(t *testing.T, sl *slab, live map[blockRef]bool) {
	t.Helper()
	liveBlk := map[[3]uint32]bool{}
	for r := range live {
		if r.class == slabBig {
			continue
		}
		liveBlk[[3]uint32{uint32(r.class), r.chunk, uint32(r.block)}] = true
	}
	for c := range sl.classes {
		cl := &sl.classes[c]
		size := slabSizes[c]
		blocks := slabChunkSize / size
		if len(cl.bufs) != len(cl.chunks) {
			t.Fatalf("class %d: %d bufs, %d chunks", c, len(cl.bufs), len(cl.chunks))
		}
		inPartial := map[uint32]int{}
		for _, i := range cl.partial {
			inPartial[i]++
		}
		isHole := map[uint32]bool{}
		for _, i := range cl.holes {
			if isHole[i] {
				t.Fatalf("class %d: hole %d twice", c, i)
			}
			isHole[i] = true
		}
		nlive := 0
		for i := range cl.chunks {
			ch := cl.chunks[i]
			if cl.bufs[i] == nil {
				if !isHole[uint32(i)] {
					t.Fatalf("class %d chunk %d: nil buf, not a hole", c, i)
				}
				if inPartial[uint32(i)] > 0 {
					t.Fatalf("class %d chunk %d: a hole in partial", c, i)
				}
				continue
			}
			nlive++
			if isHole[uint32(i)] {
				t.Fatalf("class %d chunk %d: live chunk is a hole", c, i)
			}
			if int(ch.fresh) > blocks || int(ch.used) > blocks {
				t.Fatalf("class %d chunk %d: fresh %d used %d of %d", c, i, ch.fresh, ch.used, blocks)
			}
			seen := map[uint16]bool{}
			for b := ch.free; b != noBlock; b = binary.LittleEndian.Uint16(cl.bufs[i][int(b)*size:]) {
				if seen[b] {
					t.Fatalf("class %d chunk %d: free list cycles at %d", c, i, b)
				}
				if b >= ch.fresh {
					t.Fatalf("class %d chunk %d: listed block %d >= fresh %d", c, i, b, ch.fresh)
				}
				if liveBlk[[3]uint32{uint32(c), uint32(i), uint32(b)}] {
					t.Fatalf("class %d chunk %d: live block %d on the free list", c, i, b)
				}
				seen[b] = true
			}
			nl := 0
			for k := range liveBlk {
				if k[0] == uint32(c) && k[1] == uint32(i) {
					nl++
					if k[2] >= uint32(ch.fresh) {
						t.Fatalf("class %d chunk %d: live block %d >= fresh %d", c, i, k[2], ch.fresh)
					}
				}
			}
			if nl != int(ch.used) {
				t.Fatalf("class %d chunk %d: used %d, live %d", c, i, ch.used, nl)
			}
			if int(ch.used)+len(seen)+blocks-int(ch.fresh) != blocks {
				t.Fatalf("class %d chunk %d: used %d + listed %d + unused %d != %d", c, i, ch.used, len(seen), blocks-int(ch.fresh), blocks)
			}
			if ch.listed != (inPartial[uint32(i)] == 1) || inPartial[uint32(i)] > 1 {
				t.Fatalf("class %d chunk %d: listed %v, in partial %d times", c, i, ch.listed, inPartial[uint32(i)])
			}
			if int(ch.used) < blocks && !ch.listed {
				t.Fatalf("class %d chunk %d: has free blocks (used %d) but is not listed", c, i, ch.used)
			}
		}
		if nlive != cl.live {
			t.Fatalf("class %d: live %d, %d chunks held", c, cl.live, nlive)
		}
	}
}

// TestSlabFullChunks fills several chunks of the smallest class
// (8192 blocks each: the uint16 limits), frees them in random order and
// refills, checking every invariant and every block's content.
func TestSlabFullChunks(t *testing.T) {
	sl := &slab{slabTables: &slabTables{offHeap: chunksOffHeap}}
	t.Cleanup(sl.freeChunks)
	blocks := slabChunkSize / slabSizes[0]
	if blocks != 8192 {
		t.Fatalf("%d blocks", blocks)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	live := map[blockRef]bool{}
	var refs []blockRef
	tag := map[blockRef]uint32{}
	next := uint32(0)
	alloc := func() {
		r := sl.alloc(1 + rnd.IntN(32))
		key := r
		key.n = 0
		if live[key] {
			t.Fatalf("block handed out twice: %+v", r)
		}
		live[key] = true
		b := sl.bytes(r)
		b = b[:cap(b)]
		next++
		for k := 0; k+4 <= len(b); k += 4 {
			binary.LittleEndian.PutUint32(b[k:], next)
		}
		tag[key] = next
		refs = append(refs, r)
	}
	free := func(k int) {
		r := refs[k]
		key := r
		key.n = 0
		b := sl.bytes(r)
		b = b[:cap(b)]
		for o := 0; o+4 <= len(b); o += 4 {
			if binary.LittleEndian.Uint32(b[o:]) != tag[key] {
				t.Fatalf("block %+v lost its bytes at %d", r, o)
			}
		}
		sl.free(r)
		delete(live, key)
		refs[k] = refs[len(refs)-1]
		refs = refs[:len(refs)-1]
	}
	for range 3*blocks + 7 {
		alloc()
	}
	slabInvariants(t, sl, live)
	if cl := &sl.classes[0]; cl.live != 4 || cl.chunks[0].fresh != uint16(blocks) || cl.chunks[0].used != uint16(blocks) {
		t.Fatalf("live %d, chunk 0 fresh %d used %d", cl.live, cl.chunks[0].fresh, cl.chunks[0].used)
	}
	for round := range 6 {
		// free most, in random order, checking as it goes
		for n := len(refs) * 9 / 10; n > 0; n-- {
			free(rnd.IntN(len(refs)))
			if n%1000 == 0 {
				slabInvariants(t, sl, live)
			}
		}
		slabInvariants(t, sl, live)
		for range 2*blocks + round*1000 {
			alloc()
			if len(refs)%1500 == 0 {
				slabInvariants(t, sl, live)
			}
		}
		slabInvariants(t, sl, live)
	}
	for len(refs) > 0 {
		free(len(refs) - 1)
	}
	slabInvariants(t, sl, live)
	if sl.classes[0].live != 1 || sl.held.Load() != 0 {
		t.Fatalf("live %d held %d", sl.classes[0].live, sl.held.Load())
	}
}

// TestSlabInvariants: all classes at random, invariants at
// every step.
func TestSlabInvariants(t *testing.T) {
	sl := &slab{slabTables: &slabTables{offHeap: chunksOffHeap}}
	t.Cleanup(sl.freeChunks)
	rnd := rand.New(rand.NewPCG(7, 8))
	live := map[blockRef]bool{}
	var refs []blockRef
	for step := range 20000 {
		if len(refs) > 0 && rnd.IntN(100) < 49 {
			k := rnd.IntN(len(refs))
			sl.free(refs[k])
			r := refs[k]
			r.n = 0
			delete(live, r)
			refs[k] = refs[len(refs)-1]
			refs = refs[:len(refs)-1]
		} else {
			var n int
			switch rnd.IntN(3) {
			case 0:
				n = slabMaxBlock - rnd.IntN(5000)
			case 1:
				n = 1 + rnd.IntN(200)
			default:
				n = 1 + rnd.IntN(slabMaxBlock)
			}
			r := sl.alloc(n)
			refs = append(refs, r)
			r.n = 0
			if live[r] {
				t.Fatalf("step %d: %+v handed out twice", step, r)
			}
			live[r] = true
		}
		if step%50 == 0 {
			slabInvariants(t, sl, live)
		}
	}
}

// TestMemoryAgainstModel: creates, updates (growing, shrinking), trace
// entries and drops, removes by expiry, against a model, with small
// records so that the smallest classes churn.
func TestMemoryAgainstModel(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	defer m.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	rnd := rand.New(rand.NewPCG(5, 6))
	type call struct {
		rev   int
		data  []byte
		trace [][]byte
		seqs  []int
	}
	model := map[string]*call{}
	var ids []string
	fill := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.IntN(256))
		}
		return b
	}
	seq := 0
	for step := range 30000 {
		switch op := rnd.IntN(10); {
		case op < 3 || len(ids) == 0:
			id := fmt.Sprintf("c%d", step)
			c := &call{rev: 1, data: fill(rnd.IntN(40))}
			rec := Record{Rev: 1, Data: c.data}
			if rnd.IntN(2) == 0 {
				seq++
				rec.Entry, rec.Seq = fill(1+rnd.IntN(30)), seq
				c.trace, c.seqs = append(c.trace, rec.Entry), append(c.seqs, seq)
			}
			if err := m.Create(ctx, id, rec, time.Hour); err != nil {
				t.Fatal(err)
			}
			model[id] = c
			ids = append(ids, id)
		case op < 8:
			id := ids[rnd.IntN(len(ids))]
			c := model[id]
			var data []byte
			switch rnd.IntN(3) {
			case 0:
				data = fill(rnd.IntN(30))
			case 1:
				data = fill(rnd.IntN(3000))
			default:
				data = fill(rnd.IntN(100))
			}
			rec := Record{Rev: c.rev + 1, Data: data}
			if rnd.IntN(2) == 0 {
				seq++
				rec.Entry, rec.Seq = fill(1+rnd.IntN(60)), seq
			}
			if len(c.seqs) > 0 && rnd.IntN(3) == 0 {
				rec.Drop = c.seqs[rnd.IntN(len(c.seqs))]
			}
			if err := m.Update(ctx, id, c.rev, rec, time.Hour); err != nil {
				t.Fatal(err)
			}
			c.rev, c.data = rec.Rev, data
			if rec.Drop > 0 {
				k := slices.Index(c.seqs, rec.Drop)
				c.seqs = slices.Delete(c.seqs, k, k+1)
				c.trace = slices.Delete(c.trace, k, k+1)
			}
			if rec.Entry != nil {
				c.trace, c.seqs = append(c.trace, rec.Entry), append(c.seqs, rec.Seq)
			}
		default:
			// remove by expiry: update with ttl 0 then sweep later
			k := rnd.IntN(len(ids))
			id := ids[k]
			c := model[id]
			if err := m.Update(ctx, id, c.rev, Record{Rev: c.rev + 1, Data: c.data}, -time.Second); err != nil {
				t.Fatal(err)
			}
			delete(model, id)
			ids[k] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			if rnd.IntN(20) == 0 {
				m.Sweep()
			}
		}
		if step%500 == 0 || step == 29999 {
			for id, c := range model {
				r, err := m.Get(ctx, id)
				if err != nil || r.Rev != c.rev || string(r.Data) != string(c.data) {
					t.Fatalf("step %d: %s: %v rev %d/%d data ok %v", step, id, err, r.Rev, c.rev, string(r.Data) == string(c.data))
				}
				tr, _ := m.Trace(ctx, id)
				if len(tr) != len(c.trace) {
					t.Fatalf("step %d: %s: %d entries, want %d", step, id, len(tr), len(c.trace))
				}
				for k := range tr {
					if string(tr[k]) != string(c.trace[k]) {
						t.Fatalf("step %d: %s: entry %d differs", step, id, k)
					}
				}
			}
			m.mu.RLock()
			slabInvariantsNoLive(t, &m.slab)
			m.mu.RUnlock()
		}
	}
}

// slabInvariantsNoLive checks what can be checked without the set of
// live refs.
func slabInvariantsNoLive(t *testing.T, sl *slab) {
	t.Helper()
	for c := range sl.classes {
		cl := &sl.classes[c]
		size := slabSizes[c]
		blocks := slabChunkSize / size
		for i := range cl.chunks {
			if cl.bufs[i] == nil {
				continue
			}
			ch := cl.chunks[i]
			n := 0
			for b := ch.free; b != noBlock; b = binary.LittleEndian.Uint16(cl.bufs[i][int(b)*size:]) {
				if b >= ch.fresh || n > blocks {
					t.Fatalf("class %d chunk %d: bad free list (block %d, fresh %d, %d links)", c, i, b, ch.fresh, n)
				}
				n++
			}
			if int(ch.used)+n+blocks-int(ch.fresh) != blocks {
				t.Fatalf("class %d chunk %d: used %d + listed %d + unused %d != %d", c, i, ch.used, n, blocks-int(ch.fresh), blocks)
			}
		}
	}
}

// TestSlabFreeAfterFreeChunks: a block freed after freeChunks (a
// misuse: the benchmark's early freeChunks racing a sweep, say) fails on
// the chunk's nil bytes, rather than hand freeChunk a nil chunk and count
// it back twice.
func TestSlabFreeAfterFreeChunks(t *testing.T) {
	if !chunksOffHeap {
		t.Skip("heap chunks")
	}
	sl := &slab{slabTables: &slabTables{offHeap: true}}
	a := sl.alloc(slabMaxBlock)
	var more []blockRef
	for range 4 { // fills chunk 0 (4 blocks), then chunk 1
		more = append(more, sl.alloc(slabMaxBlock))
	}
	chunkPool.mu.Lock()
	out0 := chunkPool.out
	chunkPool.mu.Unlock()
	sl.freeChunks()
	sl.freeChunks() // twice: harmless
	chunkPool.mu.Lock()
	out1 := chunkPool.out
	chunkPool.mu.Unlock()
	if out0-out1 != 2 {
		t.Fatalf("freeChunks gave %d chunks back, want 2", out0-out1)
	}
	_ = a
	// chunk 1 holds one block (more[3]); freeing it after freeChunks:
	defer func() {
		if r := recover(); r != nil {
			t.Logf("free after freeChunks panicked (as the old code did): %v", r)
			return
		}
		chunkPool.mu.Lock()
		out2 := chunkPool.out
		var nils int
		for _, b := range append(slices.Clone(chunkPool.warm), chunkPool.cold...) {
			if b == nil {
				nils++
			}
		}
		chunkPool.mu.Unlock()
		t.Errorf("free after freeChunks did not panic: pool out %d -> %d, nil chunks in the pool: %d", out1, out2, nils)
	}()
	sl.free(more[3])
}

// TestSlabSizes: the classes rise from slabMinBlock to slabMaxBlock by
// at most an eighth (or 16 bytes, rounded up to 4), fewer than slabBig of
// them, each a multiple of 4 so that every block is 4-byte aligned (the
// memory store's index aligns its tables to 8 in their blocks).
func TestSlabSizes(t *testing.T) {
	if slabSizes[0] != slabMinBlock || slabSizes[len(slabSizes)-1] != slabMaxBlock || len(slabSizes) >= slabBig {
		t.Fatalf("%d classes from %d to %d", len(slabSizes), slabSizes[0], slabSizes[len(slabSizes)-1])
	}
	for c, size := range slabSizes {
		if size%4 != 0 {
			t.Errorf("class %d: %d bytes", c, size)
		}
		if c > 0 && (size <= slabSizes[c-1] || size > slabSizes[c-1]+max(slabSizes[c-1]/8, 16)+3) {
			t.Errorf("class %d: %d bytes after %d", c, size, slabSizes[c-1])
		}
	}
}
