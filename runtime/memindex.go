package runtime

import "unsafe"

// memIndex finds a memory store's slot by its call id's 64-bit hash.
//
// A Go map of a million or two entries cost a webhook more and more as
// calls accumulated: a new call's id is looked up (and not found) in it,
// and with 1.9 M calls held that lookup took 5 % of the CPU of an answer
// under load (a directory, a table and a group to reach, each a cache
// and TLB miss on a virtual machine), against under 3 % with a few
// hundred thousand. memIndex is indexShards small open-addressing tables
// picked by the hash's top bits: the table of shards stays in the cache,
// and a lookup reads one shard's run of entries, most often one cache
// line. A shard grows by itself, so growing never copies more than one
// shard under the store's lock (a few KiB even at ten million calls).
//
// A shard's table is a block of the store's slab, so with the slab's
// chunks it is outside the Go heap: an index of a few million calls (64
// MB at 3.5 M) would otherwise be most of a kept server's live heap,
// which the collector paces by. The heap goal doubled with it, and each
// collection then swept twice the garbage, stalling webhooks for longer
// (docs/store-engines.md, *A kept server*). A table is read as uint64s
// in place, 8-byte aligned (see grow).
//
// An entry is 8 bytes without pointers: the hash's top 32 bits, and the
// slot's number plus one (so 0 is an empty place). A shard picks an
// entry's place from the bits below the shard's (bits 32–51 of the hash),
// which the entry keeps, so growing needs no slot. Two ids whose hashes
// share the top 32 bits are told apart by the slot's own hash, which a
// lookup that finds an entry compares (the caller reads that slot next
// anyway). The index maps each hash to one slot; a second id of the same
// 64-bit hash is the store's to keep elsewhere (Memory.collided).
type memIndex struct {
	shards [indexShards][]uint64 // a view of each table's block
	blocks [indexShards]blockRef // the tables' blocks (n 0: none)
	used   [indexShards]uint32
}

const (
	indexShardBits = 12
	indexShards    = 1 << indexShardBits
	indexMinShard  = 8 // entries of a shard's first table
)

func indexTag(h uint64) uint32 { return uint32(h >> 32) }

// place is where an entry of tag starts its search in a shard of
// mask+1 entries.
func place(tag uint32, mask int) int { return int(tag) & mask }

// get returns the slot of hash h, comparing each candidate slot's own
// hash.
func (x *memIndex) get(h uint64, slots *memSlots) (uint32, bool) {
	t := x.shards[h>>(64-indexShardBits)]
	if len(t) == 0 {
		return 0, false
	}
	tag, mask := indexTag(h), len(t)-1
	for i := place(tag, mask); ; i = (i + 1) & mask {
		e := t[i]
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) == tag {
			if slot := uint32(e) - 1; slots.at(slot).hash == h {
				return slot, true
			}
		}
	}
}

// put adds hash h's slot; the index must not hold h. A shard that grows
// takes its new table from sl and gives its old one back.
func (x *memIndex) put(h uint64, slot uint32, sl *slab) {
	s := h >> (64 - indexShardBits)
	t := x.shards[s]
	// A shard grows past 5/8 full: a lookup of a hash it does not hold
	// then reads about four entries, in one or two cache lines.
	if (int(x.used[s])+1)*8 > len(t)*5 {
		t = x.grow(s, sl)
	}
	insertEntry(t, uint64(indexTag(h))<<32|uint64(slot+1))
	x.used[s]++
}

// grow gives shard s a table of twice its size (or the smallest) from sl,
// holding its entries, and frees the old one.
func (x *memIndex) grow(s uint64, sl *slab) []uint64 {
	t := x.shards[s]
	n := max(2*len(t), indexMinShard)
	ref := sl.take(8 * n) // not the data held (slab.held)
	// Blocks are 4-byte aligned. A class whose size is a multiple of 8
	// has every block 8-byte aligned; one that is not has 4 bytes to
	// spare past 8n (it is at least 8n and 4 more than a multiple of 8),
	// so the table starts 4 bytes into the block when the block does not
	// start on 8. A big block is a heap object of its own: aligned.
	b := sl.bytes(ref)
	b = b[:cap(b)]
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & 7)
	if off+8*n > len(b) {
		panic("memIndex: a table does not fit its block aligned")
	}
	g := unsafe.Slice((*uint64)(unsafe.Pointer(&b[off])), n)
	clear(g) // a block holds what its last use left
	for _, e := range t {
		if e != 0 {
			insertEntry(g, e)
		}
	}
	if x.blocks[s].n != 0 {
		sl.release(x.blocks[s])
	}
	x.shards[s], x.blocks[s] = g, ref
	return g
}

func insertEntry(t []uint64, e uint64) {
	mask := len(t) - 1
	i := place(uint32(e>>32), mask)
	for t[i] != 0 {
		i = (i + 1) & mask
	}
	t[i] = e
}

// del removes the entry of slot, whose hash is h, and reports whether
// the index held it. The entries after it in its run move back over the gap (no
// tombstones: a shard that sees many calls come and go stays as fast).
func (x *memIndex) del(h uint64, slot uint32) bool {
	s := h >> (64 - indexShardBits)
	t := x.shards[s]
	if len(t) == 0 {
		return false
	}
	want, mask := uint64(indexTag(h))<<32|uint64(slot+1), len(t)-1
	i := place(indexTag(h), mask)
	for t[i] != want {
		if t[i] == 0 {
			return false
		}
		i = (i + 1) & mask
	}
	// Knuth's deletion for linear probing: an entry later in the run
	// moves into the gap unless its own place lies cyclically within
	// (gap, entry].
	for j := i; ; {
		j = (j + 1) & mask
		e := t[j]
		if e == 0 {
			break
		}
		k := place(uint32(e>>32), mask)
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t[i] = e
			i = j
		}
	}
	t[i] = 0
	x.used[s]--
	return true
}
