package runtime

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestMemIndex checks the index against a Go map through a long run of
// puts and deletes: hashes spread over every shard, hashes crowded into
// one shard and sharing their top 32 bits (tags that only the slot's own
// hash tells apart), shards growing and emptying.
func TestMemIndex(t *testing.T) {
	var slots memSlots
	// The slots' pages are the slab's chunks: freed here, after the last
	// read, not by a cleanup once sl is dead (after the loop below, while
	// the final checks still read the pages).
	sl := &slab{slabTables: &slabTables{offHeap: chunksOffHeap}}
	t.Cleanup(sl.freeChunks)
	var x memIndex
	want := map[uint64]uint32{}
	free := []uint32{}
	rnd := rand.New(rand.NewPCG(1, 2))
	hash := func() uint64 {
		switch rnd.IntN(4) {
		case 0: // one shard, few tags: long runs, equal tags
			return 0xabc<<52 | uint64(rnd.IntN(8))<<32 | rnd.Uint64()&0xffffffff
		case 1: // one shard, places crowded at the shard's start
			return 0x123<<52 | uint64(rnd.IntN(64)) | uint64(rnd.IntN(4))<<32
		default:
			return rnd.Uint64()
		}
	}
	check := func(h uint64) {
		t.Helper()
		got, ok := x.get(h, &slots)
		w, wok := want[h]
		if ok != wok || got != w {
			t.Fatalf("get(%#x) = %d, %v; want %d, %v", h, got, ok, w, wok)
		}
	}
	for step := range 200_000 {
		if len(want) > 0 && rnd.IntN(100) < 45 {
			// Delete a stored hash (map order: any one).
			for h, i := range want {
				if !x.del(h, i) {
					t.Fatalf("step %d: del(%#x, %d) found nothing", step, h, i)
				}
				if x.del(h, i) {
					t.Fatalf("step %d: del(%#x, %d) twice", step, h, i)
				}
				delete(want, h)
				slots.at(i).hash = 0
				free = append(free, i)
				check(h)
				break
			}
			continue
		}
		h := hash()
		check(h)
		if _, ok := want[h]; ok {
			continue
		}
		var i uint32
		if n := len(free); n > 0 {
			i, free = free[n-1], free[:n-1]
		} else {
			i = slots.add(sl)
		}
		slots.at(i).hash = h
		x.put(h, i, sl)
		want[h] = i
		check(h)
		if step%1000 == 0 {
			for h := range want {
				check(h)
			}
			if n := x.count(t); n != len(want) {
				t.Fatalf("step %d: %d entries, want %d", step, n, len(want))
			}
		}
	}
	for h := range want {
		check(h)
	}
	// A hash whose tag an entry has, the entry of another hash: not
	// found. A hash of the same shard but another tag, with that
	// entry's slot: nothing to delete.
	for h, i := range want {
		if _, ok := want[h^1]; !ok {
			if got, ok := x.get(h^1, &slots); ok {
				t.Fatalf("get(%#x) found slot %d of %#x", h^1, got, h)
			}
		}
		if x.del(h^1<<40, i) {
			t.Fatalf("del(%#x, %d) removed the entry of %#x", h^1<<40, i, h)
		}
		break
	}
	// The slab holds the shards' tables and nothing else (the slots'
	// pages are its own tables, not blocks): every table a shard grew
	// out of was given back. They are not data it holds (held), and each
	// is read in place, so 8-byte aligned.
	if held := sl.held.Load(); held != 0 {
		t.Fatalf("the slab counts %d bytes held", held)
	}
	tables := 0
	for s, tab := range x.shards {
		if len(tab) == 0 {
			continue
		}
		tables++
		b := sl.bytes(x.blocks[s])
		b = b[:cap(b)]
		from, start := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(tab)))
		if start < from || start+uintptr(8*len(tab)) > from+uintptr(len(b)) || start%8 != 0 {
			t.Fatalf("shard %d: a table of %d entries at %#x, its block of %d bytes at %#x", s, len(tab), start, len(b), from)
		}
	}
	blocks := len(sl.big)
	for _, cl := range sl.classes {
		for _, ch := range cl.chunks {
			blocks += int(ch.used)
		}
	}
	if blocks != tables {
		t.Fatalf("the slab has %d blocks out, for %d shards' tables", blocks, tables)
	}
}

// TestMemIndexWrap: deletion in a run that wraps past a shard's end, for
// every arrangement of up to five entries whose places crowd its last
// and first places (a shard of 8 holds at most five).
func TestMemIndexWrap(t *testing.T) {
	var slots memSlots
	sl := &slab{slabTables: &slabTables{}} // heap pages: no cleanup
	for range 5 {
		slots.add(sl)
	}
	places := []uint32{5, 6, 7, 0, 1}
	var x memIndex
	var hs [5]uint64
	var idx [5]int
	for {
		for n := 1; n <= 5; n++ {
			for del := range n {
				if x.blocks[0].n != 0 {
					sl.release(x.blocks[0])
				}
				x.shards[0], x.blocks[0], x.used[0] = nil, blockRef{}, 0
				for k := range n {
					// Distinct tags in shard 0, at place places[idx[k]].
					hs[k] = uint64(places[idx[k]]+8*uint32(k+1))<<32 | uint64(k)
					slots.at(uint32(k)).hash = hs[k]
					x.put(hs[k], uint32(k), sl)
				}
				if len(x.shards[0]) != 8 {
					t.Fatalf("shard of %d entries", len(x.shards[0]))
				}
				if !x.del(hs[del], uint32(del)) {
					t.Fatalf("%v n=%d: del %d found nothing", idx, n, del)
				}
				for k := range n {
					got, ok := x.get(hs[k], &slots)
					if want := k != del; ok != want || (ok && got != uint32(k)) {
						t.Fatalf("%v n=%d del=%d: get entry %d = %d, %v", idx, n, del, k, got, ok)
					}
				}
			}
		}
		// Next arrangement (base len(places), five digits).
		k := 0
		for ; k < 5; k++ {
			if idx[k]++; idx[k] < len(places) {
				break
			}
			idx[k] = 0
		}
		if k == 5 {
			return
		}
	}
}

// chunks returns how many slab chunks x's tables are in.
func (x *memIndex) chunks() int {
	in := map[[2]uint32]bool{}
	for s, tab := range x.shards {
		if len(tab) > 0 {
			in[[2]uint32{uint32(x.blocks[s].class), x.blocks[s].chunk}] = true
		}
	}
	return len(in)
}

// count returns the entries x's tables hold, and fails t when a shard's
// count of them (used) says otherwise.
func (x *memIndex) count(t *testing.T) int {
	t.Helper()
	n := 0
	for s, tab := range x.shards {
		k := 0
		for _, e := range tab {
			if e != 0 {
				k++
			}
		}
		if k != int(x.used[s]) {
			t.Fatalf("shard %d holds %d entries, counts %d", s, k, x.used[s])
		}
		n += k
	}
	return n
}

// TestMemIndexAligned: a shard's table is 8-byte aligned and within its
// block whatever the block's place in its chunk: with one block of every
// class taken first, a table's block is the second of its chunk, 4 bytes
// off 8 in a class whose size is not a multiple of 8.
func TestMemIndexAligned(t *testing.T) {
	var slots memSlots
	sl := &slab{slabTables: &slabTables{offHeap: chunksOffHeap}}
	t.Cleanup(sl.freeChunks)
	for _, size := range slabSizes {
		sl.alloc(size)
	}
	var x memIndex
	const n = 3000 // shard 0 grows to 8192 entries
	for i := range uint32(n) {
		h := uint64(i+1) << 32 // shard 0, distinct tags
		slots.add(sl)
		slots.at(i).hash = h
		x.put(h, i, sl)
		tab := x.shards[0]
		b := sl.bytes(x.blocks[0])
		b = b[:cap(b)]
		from, start := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(tab)))
		if start%8 != 0 || start < from || start+uintptr(8*len(tab)) > from+uintptr(len(b)) {
			t.Fatalf("%d entries: a table of %d at %#x, its block of %d bytes at %#x", i+1, len(tab), start, len(b), from)
		}
	}
	for i := range uint32(n) {
		if got, ok := x.get(uint64(i+1)<<32, &slots); !ok || got != i {
			t.Fatalf("get entry %d = %d, %v", i, got, ok)
		}
	}
}
