//go:build unix

package runtime

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// poolFree is how many chunks the off-heap pool holds for reuse.
func poolFree() int {
	chunkPool.mu.Lock()
	defer chunkPool.mu.Unlock()
	return len(chunkPool.warm) + len(chunkPool.cold)
}

// TestSlabChunksOffHeap: a memory store's chunks are off the Go heap
// (the heap does not grow by the data it holds); a chunk its calls leave
// goes back to the pool, and so does every chunk of a store nothing
// reaches any more.
func TestSlabChunksOffHeap(t *testing.T) {
	heap := testenv.LiveHeap
	ctx := context.Background()
	data := make([]byte, 1500)
	func() {
		m := NewMemory()
		defer m.Close()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m.now = func() time.Time { return now }
		before := heap()
		for i := range 4000 { // about 6 MB in blocks of 1.5 KiB
			if err := m.Create(ctx, fmt.Sprintf("call-%d", i), Record{Data: data, Live: true}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		m.mu.RLock()
		held, offHeap := m.slab.inUse(), m.slab.offHeap
		m.mu.RUnlock()
		if !offHeap || held < 4000*len(data) {
			t.Fatalf("off heap %v, %d bytes held", offHeap, held)
		}
		// The index and slots grow the heap a little; the data not.
		if grown := int64(heap()) - int64(before); grown > int64(held)/4 {
			t.Fatalf("the heap grew by %d bytes for %d bytes of calls", grown, held)
		}
		free := poolFree()
		now = now.Add(2 * time.Hour) // every call expires
		m.Sweep()
		// Other stores' cleanups may give chunks back meanwhile: at
		// least this store's, but the one its one size class keeps and
		// those the index's tables are in (the index keeps its size).
		if back := poolFree() - free; back < held/slabChunkSize-1-m.index.chunks() {
			t.Fatalf("%d chunks went back to the pool after every call left, of %d bytes", back, held)
		}
		if m.slab.deferred || len(m.slab.retired) != 0 {
			t.Fatalf("after the sweep: deferred %v, %d chunks not given back", m.slab.deferred, len(m.slab.retired))
		}
	}()

	// A store nothing reaches: its cleanup gives every chunk back.
	var chunks []*byte
	func() {
		m := NewMemory()
		for i := range 2000 {
			_ = m.Create(ctx, fmt.Sprintf("call-%d", i), Record{Data: data}, time.Hour)
		}
		m.mu.RLock()
		for _, cl := range m.slab.classes {
			for i, b := range cl.bufs {
				if b != nil && cl.chunks[i].offHeap {
					chunks = append(chunks, &b[0])
				}
			}
		}
		m.mu.RUnlock()
		m.Close() // stops its sweeper, which holds it
	}()
	if len(chunks) < 2000*len(data)/slabChunkSize {
		t.Fatalf("the second store holds %d chunks off the heap", len(chunks))
	}
	pooled := func() (n int) {
		chunkPool.mu.Lock()
		defer chunkPool.mu.Unlock()
		in := map[*byte]bool{}
		for _, b := range append(chunkPool.warm, chunkPool.cold...) {
			in[&b[0]] = true
		}
		for _, p := range chunks {
			if in[p] {
				n++
			}
		}
		return n
	}
	deadline := time.After(10 * time.Second)
	for pooled() < len(chunks) {
		goruntime.GC()
		select {
		case <-deadline:
			t.Fatalf("an unreachable store kept %d of its %d chunks for 10 s", len(chunks)-pooled(), len(chunks))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestReserveMemory: the reserve's chunks are resident before any store
// takes them, a chunk a store gives back while the reserve wants it keeps
// its pages (and bytes), and without a reserve its pages go back.
func TestReserveMemory(t *testing.T) {
	t.Cleanup(func() { _, _ = ReserveMemory(0) })
	chunkPool.mu.Lock()
	held := chunkPool.out + len(chunkPool.warm)
	chunkPool.mu.Unlock()
	const more = 16 // 4 MiB
	touched, err := ReserveMemory(int64(held+more) * slabChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if touched < more*slabChunkSize {
		t.Fatalf("the reserve touched %d bytes, want at least %d", touched, more*slabChunkSize)
	}
	// Every chunk the pool keeps warm is in memory, page by page.
	chunkPool.mu.Lock()
	for _, b := range chunkPool.warm {
		if n := residentPages(t, b); n != len(b)/os.Getpagesize() {
			chunkPool.mu.Unlock()
			t.Fatalf("a reserved chunk has %d of its %d pages in memory", n, len(b)/os.Getpagesize())
		}
	}
	chunkPool.mu.Unlock()

	b := newChunk()
	copy(b[5000:], "kept")
	freeChunk(b)
	if warm, _, bytes := pooledChunk(b); !warm || bytes != "kept" {
		t.Fatalf("a chunk given back under the reserve: kept %v, bytes %q", warm, bytes)
	}

	if _, err := ReserveMemory(0); err != nil {
		t.Fatal(err)
	}
	b = newChunk()
	copy(b[5000:], "gone")
	freeChunk(b)
	if _, cold, bytes := pooledChunk(b); !cold || bytes != "\x00\x00\x00\x00" {
		t.Fatalf("a chunk given back without a reserve: in the pool %v, bytes %q", cold, bytes)
	}
}

// pooledChunk reports whether the pool holds chunk b warm or cold, and
// b's bytes 5000–5003 (read under the pool's lock: no store has it).
func pooledChunk(b []byte) (warm, cold bool, bytes string) {
	chunkPool.mu.Lock()
	defer chunkPool.mu.Unlock()
	for _, c := range chunkPool.warm {
		warm = warm || &c[0] == &b[0]
	}
	for _, c := range chunkPool.cold {
		cold = cold || &c[0] == &b[0]
	}
	return warm, cold, string(b[5000:5004])
}

// TestReserveMemoryShrink: a smaller reserve gives back at once the warm
// chunks no store holds beyond it.
func TestReserveMemoryShrink(t *testing.T) {
	t.Cleanup(func() { _, _ = ReserveMemory(0) })
	chunkPool.mu.Lock()
	held := chunkPool.out + len(chunkPool.warm)
	chunkPool.mu.Unlock()
	if _, err := ReserveMemory(int64(held+16) * slabChunkSize); err != nil {
		t.Fatal(err)
	}
	if _, err := ReserveMemory(0); err != nil {
		t.Fatal(err)
	}
	chunkPool.mu.Lock()
	warm := len(chunkPool.warm)
	chunkPool.mu.Unlock()
	if warm != 0 {
		t.Fatalf("%d chunks stay warm after the reserve went to 0", warm)
	}
}

// TestIndexOffHeap: the index of the calls a memory store holds is off
// the Go heap with their data: 200,000 calls grow the heap by under a
// byte each, whatever else the process allocates meanwhile (in the heap
// their index's tables were 3.9 MB).
func TestIndexOffHeap(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	t.Cleanup(func() { m.Close(); m.slab.freeChunks() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	data := make([]byte, 64)
	before := testenv.LiveHeap()
	const calls = 200_000
	for i := range calls {
		if err := m.Create(ctx, fmt.Sprintf("call-%d", i), Record{Data: data, Live: true}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if grown := int64(testenv.LiveHeap()) - int64(before); grown > calls {
		t.Fatalf("the heap grew by %d bytes for %d calls", grown, calls)
	}
	if !m.slab.offHeap {
		t.Fatal("the slab is on the heap")
	}
}

// inPool reports whether chunk b is in the off-heap pool.
func inPool(b []byte) bool {
	chunkPool.mu.Lock()
	defer chunkPool.mu.Unlock()
	for _, c := range append(chunkPool.warm[:len(chunkPool.warm):len(chunkPool.warm)], chunkPool.cold...) {
		if unsafe.SliceData(c) == unsafe.SliceData(b) {
			return true
		}
	}
	return false
}

// TestSlabDeferred: while deferred is set, a chunk whose last block is
// freed waits in retired, not in the pool, for its owner to give it back
// once unlocked (the memory store's sweep).
func TestSlabDeferred(t *testing.T) {
	if !chunksOffHeap {
		t.Skip("no off-heap chunks here")
	}
	sl := &slab{slabTables: &slabTables{offHeap: true}}
	t.Cleanup(sl.freeChunks)
	// Two chunks of the largest class, four blocks each: freeing the
	// second's empties it (a class keeps its last chunk, not this one).
	var refs []blockRef
	for range 8 {
		refs = append(refs, sl.alloc(slabMaxBlock))
	}
	sl.deferred = true
	for _, r := range refs[4:] {
		sl.free(r)
	}
	sl.deferred = false
	if len(sl.retired) != 1 {
		t.Fatalf("%d chunks retired, want 1", len(sl.retired))
	}
	b := sl.retired[0]
	if inPool(b) {
		t.Fatal("the retired chunk went to the pool before its owner gave it back")
	}
	sl.retired = nil
	freeChunk(b)
	if !inPool(b) {
		t.Fatal("the chunk given back is not in the pool")
	}
}
