package runtime

import (
	"math/rand/v2"
	"testing"
)

// TestMemIndex checks the index against a Go map through a long run of
// puts and deletes: hashes spread over every shard, hashes crowded into
// one shard and sharing their top 32 bits (tags that only the slot's own
// hash tells apart), shards growing and emptying.
func TestMemIndex(t *testing.T) {
	var slots memSlots
	sl := &slab{}
	initSlab(sl, sl)
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
		x.put(h, i)
		want[h] = i
		check(h)
		if step%1000 == 0 {
			for h := range want {
				check(h)
			}
			if x.len() != len(want) {
				t.Fatalf("step %d: len %d, want %d", step, x.len(), len(want))
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
}
