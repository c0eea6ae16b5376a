package main

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func engines(t *testing.T) map[string]Engine {
	t.Helper()
	m := map[string]Engine{}
	for _, name := range []string{"bolt", "boltnfs", "pebble", "floor", "append"} {
		e, err := openEngine(config{cacheMB: 8, rangeDel: name == "pebble"}, name, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		m[name] = e
	}
	return m
}

// TestCompareAndSet runs writers of one call concurrently: each revision
// is won by exactly one of them.
func TestCompareAndSet(t *testing.T) {
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			id := []byte("call-cas")
			now := time.Now().UnixNano()
			exp := now + int64(time.Hour)
			var mu sync.Mutex
			won := map[uint64]int{}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 40 {
						rev, _, _, err := e.Get(id, now)
						if err != nil {
							t.Error(err)
							return
						}
						err = e.Write(&Webhook{ID: id, PrevRev: rev, Hot: []byte("hot"), Trace: []byte("trace"), Expiry: exp, Now: now})
						switch {
						case err == nil:
							mu.Lock()
							won[rev]++
							mu.Unlock()
						case errors.Is(err, ErrConflict), errors.Is(err, ErrExists):
						default:
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			rev, _, _, _ := e.Get(id, now)
			if len(won) != int(rev) {
				t.Fatalf("revision %d after %d winning writes", rev, len(won))
			}
			for r, n := range won {
				if n != 1 {
					t.Errorf("revision %d won by %d writers", r, n)
				}
			}
		})
	}
}

// TestTraceWindow keeps the first 50 and the latest 50 trace entries.
func TestTraceWindow(t *testing.T) {
	for name, e := range engines(t) {
		if name == "floor" || name == "append" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			id := []byte("call-window")
			now := time.Now().UnixNano()
			for i := range uint64(130) {
				w := &Webhook{ID: id, PrevRev: i, Hot: []byte("hot"), Trace: []byte("trace"), Expiry: now + int64(time.Hour), Now: now}
				if err := e.Write(w); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.Traces(id)
			if err != nil {
				t.Fatal(err)
			}
			if want := traceSeqs(130); !slices.Equal(got, want) {
				t.Fatalf("trace entries %v, want %v", got, want)
			}
			if len(got) != 100 || got[49] != 49 || got[50] != 80 || got[99] != 129 {
				t.Fatalf("trace entries %v", got)
			}
		})
	}
}

// TestSweep deletes expired sessions, their trace entries and index
// entries, and leaves the others.
func TestSweep(t *testing.T) {
	for name, e := range engines(t) {
		if name == "floor" || name == "append" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			now := time.Now().UnixNano()
			if err := load(e, 1000, 120, 300, now+int64(time.Hour), 1); err != nil {
				t.Fatal(err)
			}
			if err := load(e, 10, 3, 300, now+int64(5*time.Hour), 2); err != nil {
				t.Fatal(err)
			}
			// A loaded session that a webhook then moves to a later expiry.
			g := newGen(3)
			id := g.id()
			if err := e.Load([]Loaded{{ID: id, Hot: []byte("h"), Traces: [][]byte{[]byte("a")}, Expiry: now + int64(time.Hour)}}); err != nil {
				t.Fatal(err)
			}
			if err := e.Write(&Webhook{ID: id, PrevRev: 1, Hot: []byte("h"), Trace: []byte("b"), Expiry: now + int64(6*time.Hour), Now: now}); err != nil {
				t.Fatal(err)
			}
			h, tr, x, err := e.Counts()
			if err != nil {
				t.Fatal(err)
			}
			if h != 1011 || tr != 1000*100+10*3+2 || x != 1011 {
				t.Fatalf("before the sweep: %d hot, %d trace, %d index", h, tr, x)
			}
			// A session of 120 webhooks is 102 records: 8 fit in 900.
			n, _, err := e.SweepBatch(now+int64(2*time.Hour), 900)
			if err != nil || n != 8 {
				t.Fatalf("first sweep batch took %d sessions (%v), want 8", n, err)
			}
			r, err := sweep(e, now+int64(2*time.Hour), 900, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.entries+n != 1000 {
				t.Fatalf("swept %d entries, want 1000", r.entries+n)
			}
			if h, tr, x, _ = e.Counts(); h != 11 || tr != 32 || x != 11 {
				t.Fatalf("after the sweep: %d hot, %d trace, %d index", h, tr, x)
			}
			if _, _, ok, _ := e.Get(id, now); !ok {
				t.Fatal("the moved session was swept")
			}
			// An expired record not yet swept can be created anew, its old
			// trace entries gone.
			r, _ = sweep(e, now+int64(5*time.Hour)+2*expiryGranularity, 900, 0)
			if r.entries != 10 {
				t.Fatalf("second sweep: %d entries, want 10", r.entries)
			}
			later := now + int64(7*time.Hour)
			if err := e.Write(&Webhook{ID: id, PrevRev: 0, Hot: []byte("h"), Trace: []byte("c"), Expiry: later + int64(time.Hour), Now: later}); err != nil {
				t.Fatal(err)
			}
			if s, _ := e.Traces(id); !slices.Equal(s, []uint32{0}) {
				t.Fatalf("recreated call's trace entries %v", s)
			}
			if h, tr, x, _ = e.Counts(); h != 1 || tr != 1 || x != 1 {
				t.Fatalf("after re-creating: %d hot, %d trace, %d index", h, tr, x)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	g := newGen(1)
	id := g.id()
	if len(id) != 36 {
		t.Fatalf("id %q", id)
	}
	for range 100 {
		if n := len(g.hot(id, 1)); n < 300 || n > 1000 {
			t.Fatalf("hot of %d bytes", n)
		}
		if n := len(g.trace(id, 1)); n < 300 || n > 1500 {
			t.Fatalf("trace of %d bytes", n)
		}
	}
}
