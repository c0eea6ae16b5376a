package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testStoreContract checks that a Store keeps the contract the runtime
// relies on. open returns a new, empty store for each subtest (and closes
// it in t.Cleanup, or leaves it to testStoreContract, which closes it). It
// only uses the Store interface and real time (short TTLs), so any store
// can run it: Memory, Bolt, and later Redis (which may need the records of
// other runs cleared by open).
func testStoreContract(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	const long = time.Hour
	fresh := func(t *testing.T) Store {
		st := open(t)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	id := func(t *testing.T, s string) string { return t.Name() + "/" + s }

	t.Run("GetUnknown", func(t *testing.T) {
		st := fresh(t)
		if _, err := st.Get(ctx, id(t, "nobody")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of an unknown call: %v, want ErrNotFound", err)
		}
	})

	t.Run("CreateGet", func(t *testing.T) {
		st := fresh(t)
		for _, rec := range []Record{
			{Rev: 1, Live: true, Data: []byte(`{"a":1}`)},
			{Rev: 7, Live: false, Data: []byte{}},
			{Rev: 1 << 40, Live: true, Data: bytes.Repeat([]byte("x\x00\xff"), 30000)},
		} {
			k := id(t, fmt.Sprint(rec.Rev))
			if err := st.Create(ctx, k, rec, long); err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rev != rec.Rev || got.Live != rec.Live || !bytes.Equal(got.Data, rec.Data) {
				t.Fatalf("Get = step %d live %v %d bytes, want step %d live %v %d bytes", got.Rev, got.Live, len(got.Data), rec.Rev, rec.Live, len(rec.Data))
			}
		}
		// Odd keys are keys like any other.
		for _, k := range []string{"", "a/b", "ü ñ", "x@y", "CallUUID=1&b=2"} {
			if err := st.Create(ctx, id(t, k), Record{Rev: 3, Data: []byte(k)}, long); err != nil {
				t.Fatalf("Create(%q): %v", k, err)
			}
			if got, err := st.Get(ctx, id(t, k)); err != nil || string(got.Data) != k {
				t.Fatalf("Get(%q) = %q, %v", k, got.Data, err)
			}
		}
	})

	t.Run("CreateExists", func(t *testing.T) {
		st := fresh(t)
		k := id(t, "c")
		if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte("first")}, long); err != nil {
			t.Fatal(err)
		}
		err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte("second")}, long)
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		if got, _ := st.Get(ctx, k); string(got.Data) != "first" {
			t.Fatalf("the second Create changed the record: %q", got.Data)
		}
	})

	t.Run("UpdateCAS", func(t *testing.T) {
		st := fresh(t)
		k := id(t, "c")
		if err := st.Update(ctx, k, 1, Record{Rev: 2}, long); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update of an unknown call: %v, want ErrNotFound", err)
		}
		if _, err := st.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update of an unknown call created it: %v", err)
		}
		if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte("s1")}, long); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, k, 1, Record{Rev: 2, Live: true, Data: []byte("s2")}, long); err != nil {
			t.Fatalf("Update from the stored step: %v", err)
		}
		for _, prev := range []int{0, 1, 3, -1} {
			if err := st.Update(ctx, k, prev, Record{Rev: 9, Data: []byte("bad")}, long); !errors.Is(err, ErrConflict) {
				t.Fatalf("Update from step %d with step 2 stored: %v, want ErrConflict", prev, err)
			}
		}
		got, _ := st.Get(ctx, k)
		if got.Rev != 2 || !got.Live || string(got.Data) != "s2" {
			t.Fatalf("after conflicts: %+v", got)
		}
		// The step may stay the same (a hangup) and go down to live=false.
		if err := st.Update(ctx, k, 2, Record{Rev: 2, Live: false, Data: []byte("s2 hung up")}, long); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Get(ctx, k); got.Live || string(got.Data) != "s2 hung up" {
			t.Fatalf("after the same-step update: %+v", got)
		}
		// Records are independent.
		if err := st.Create(ctx, id(t, "other"), Record{Rev: 5, Data: []byte("o")}, long); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, id(t, "other"), 2, Record{Rev: 6}, long); !errors.Is(err, ErrConflict) {
			t.Fatalf("another call's step: %v", err)
		}
	})

	t.Run("Copies", func(t *testing.T) {
		// A store holds bytes: changing a slice given to it, or one it
		// returned, changes nothing stored.
		st := fresh(t)
		k := id(t, "c")
		data := []byte("abc")
		if err := st.Create(ctx, k, Record{Rev: 1, Data: data}, long); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X'
		got, _ := st.Get(ctx, k)
		if string(got.Data) != "abc" {
			t.Fatalf("Create kept the caller's slice: %q", got.Data)
		}
		got.Data[0] = 'Y'
		if again, _ := st.Get(ctx, k); string(again.Data) != "abc" {
			t.Fatalf("Get returned the stored slice: %q", again.Data)
		}
		upd := []byte("def")
		if err := st.Update(ctx, k, 1, Record{Rev: 2, Data: upd}, long); err != nil {
			t.Fatal(err)
		}
		upd[0] = 'Z'
		if again, _ := st.Get(ctx, k); string(again.Data) != "def" {
			t.Fatalf("Update kept the caller's slice: %q", again.Data)
		}
		src := []byte("flow: x")
		if err := st.PutVersion(ctx, "x", "v1", src, long); err != nil {
			t.Fatal(err)
		}
		src[0] = 'F'
		if v, _ := st.GetVersion(ctx, "x", "v1"); string(v) != "flow: x" {
			t.Fatalf("PutVersion kept the caller's slice: %q", v)
		}
	})

	t.Run("Trace", func(t *testing.T) {
		st := fresh(t)
		k := id(t, "c")
		entries := func() []string {
			t.Helper()
			got, err := st.Trace(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range got {
				out = append(out, string(e))
			}
			return out
		}
		if got := entries(); len(got) != 0 {
			t.Fatalf("trace of an unknown call: %q", got)
		}
		if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte("s"), Entry: []byte("e0")}, long); err != nil {
			t.Fatal(err)
		}
		// Entries come back in sequence order, past 9 and 10 too.
		for seq := 1; seq <= 11; seq++ {
			rec := Record{Rev: seq + 1, Live: true, Data: []byte("s"), Entry: []byte(fmt.Sprintf("e%d", seq)), Seq: seq}
			if seq >= 5 {
				rec.Drop = seq - 3 // keep e0, e1 and the latest three
			}
			if err := st.Update(ctx, k, seq, rec, long); err != nil {
				t.Fatal(err)
			}
		}
		want := "[e0 e1 e9 e10 e11]"
		if got := fmt.Sprint(entries()); got != want {
			t.Fatalf("trace = %s, want %s", got, want)
		}
		// A write without an entry keeps the trace; a failed one adds none.
		if err := st.Update(ctx, k, 12, Record{Rev: 13, Live: true, Data: []byte("s")}, long); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, k, 1, Record{Rev: 14, Entry: []byte("lost"), Seq: 12, Drop: 9}, long); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale Update: %v", err)
		}
		if err := st.Create(ctx, k, Record{Rev: 1, Entry: []byte("lost"), Seq: 12}, long); !errors.Is(err, ErrExists) {
			t.Fatalf("second Create: %v", err)
		}
		if got := fmt.Sprint(entries()); got != want {
			t.Fatalf("after writes without or with failed entries: %s, want %s", got, want)
		}
		// Events are numbered from eventSeq, apart from the steps, and
		// dropped by their own numbers.
		for i, rec := range []Record{
			{Rev: 14, Live: true, Data: []byte("s"), Entry: []byte("ev0"), Seq: eventSeq},
			{Rev: 15, Live: true, Data: []byte("s"), Entry: []byte("ev1"), Seq: eventSeq + 1, Drop: eventSeq},
		} {
			if err := st.Update(ctx, k, 13+i, rec, long); err != nil {
				t.Fatal(err)
			}
		}
		want = "[e0 e1 e9 e10 e11 ev1]"
		if got := fmt.Sprint(entries()); got != want {
			t.Fatalf("after events: %s, want %s", got, want)
		}
		// Another call's trace is its own, even when its id extends this one's.
		other := k + "\x00x"
		if err := st.Create(ctx, other, Record{Rev: 1, Entry: []byte("o0")}, long); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(entries()); got != want {
			t.Fatalf("after another call's entry: %s, want %s", got, want)
		}
		// The trace expires with its record, and a new call with the id
		// starts with an empty one.
		short := id(t, "short")
		if err := st.Create(ctx, short, Record{Rev: 1, Entry: []byte("old")}, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 3*time.Second, func() bool {
			_, err := st.Get(ctx, short)
			return errors.Is(err, ErrNotFound)
		}, "the short-TTL record to expire")
		if got, err := st.Trace(ctx, short); err != nil || len(got) != 0 {
			t.Fatalf("trace of an expired call: %q, %v", got, err)
		}
		if err := st.Create(ctx, short, Record{Rev: 1, Entry: []byte("new")}, long); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Trace(ctx, short); err != nil || fmt.Sprintf("%s", got) != "[new]" {
			t.Fatalf("trace of a new call with an expired call's id: %s, %v", got, err)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		st := fresh(t)
		const ttl = 150 * time.Millisecond
		short, refreshed, kept := id(t, "short"), id(t, "refreshed"), id(t, "kept")
		start := time.Now()
		for _, k := range []string{short, refreshed} {
			if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte(k)}, ttl); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Create(ctx, kept, Record{Rev: 1, Live: true, Data: []byte("k")}, long); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, short); err != nil && time.Since(start) < ttl {
			t.Fatalf("Get before the TTL: %v", err)
		}
		// An update sets a new TTL.
		if err := st.Update(ctx, refreshed, 1, Record{Rev: 2, Live: true, Data: []byte("r")}, long); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 3*time.Second, func() bool {
			_, err := st.Get(ctx, short)
			return errors.Is(err, ErrNotFound)
		}, "the short-TTL record to expire")
		if time.Since(start) < ttl {
			t.Fatalf("expired after %v, before its TTL %v", time.Since(start), ttl)
		}
		if got, err := st.Get(ctx, refreshed); err != nil || got.Rev != 2 {
			t.Fatalf("the updated record expired with its first TTL: %+v %v", got, err)
		}
		if _, err := st.Get(ctx, kept); err != nil {
			t.Fatalf("the long-TTL record: %v", err)
		}
		// An expired record is gone: Update says not found, Live does
		// not count it, Create starts afresh.
		if err := st.Update(ctx, short, 1, Record{Rev: 2}, long); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update of an expired record: %v, want ErrNotFound", err)
		}
		if n, err := st.Live(ctx); err != nil || n != 2 {
			t.Fatalf("Live = %d, %v; want 2 (the expired record is not live)", n, err)
		}
		if err := st.Create(ctx, short, Record{Rev: 1, Live: true, Data: []byte("new")}, long); err != nil {
			t.Fatalf("Create over an expired record: %v", err)
		}
		if got, _ := st.Get(ctx, short); string(got.Data) != "new" {
			t.Fatalf("after re-Create: %q", got.Data)
		}
	})

	t.Run("Versions", func(t *testing.T) {
		st := fresh(t)
		if _, err := st.GetVersion(ctx, "ivr", "v1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetVersion of an unknown version: %v, want ErrNotFound", err)
		}
		put := func(f, v, src string, ttl time.Duration) {
			t.Helper()
			if err := st.PutVersion(ctx, f, v, []byte(src), ttl); err != nil {
				t.Fatal(err)
			}
		}
		get := func(f, v string) string {
			t.Helper()
			b, err := st.GetVersion(ctx, f, v)
			if err != nil {
				t.Fatalf("GetVersion(%s, %s): %v", f, v, err)
			}
			return string(b)
		}
		put("ivr", "v1", "one", long)
		put("ivr", "v2", "two", long)
		put("survey", "v1", "other flow", long)
		if get("ivr", "v1") != "one" || get("ivr", "v2") != "two" || get("survey", "v1") != "other flow" {
			t.Fatal("versions mixed up")
		}
		// Putting a version again (a refresh of its TTL) keeps it.
		put("ivr", "v1", "one", long)
		if get("ivr", "v1") != "one" {
			t.Fatal("refresh changed the source")
		}
		// Versions are not sessions.
		if _, err := st.Get(ctx, "ivr@v1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a version read as a session: %v", err)
		}
		if n, _ := st.Live(ctx); n != 0 {
			t.Fatalf("versions counted as live sessions: %d", n)
		}
		put("ivr", "short", "brief", 100*time.Millisecond)
		waitUntil(t, 3*time.Second, func() bool {
			_, err := st.GetVersion(ctx, "ivr", "short")
			return errors.Is(err, ErrNotFound)
		}, "the short-TTL version to expire")
		if get("ivr", "v2") != "two" {
			t.Fatal("a long-TTL version expired")
		}
	})

	t.Run("Live", func(t *testing.T) {
		st := fresh(t)
		live := func() int {
			t.Helper()
			n, err := st.Live(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := live(); n != 0 {
			t.Fatalf("a new store has %d live sessions", n)
		}
		for i := range 5 {
			if err := st.Create(ctx, id(t, fmt.Sprint(i)), Record{Rev: 1, Live: true}, long); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Create(ctx, id(t, "dead"), Record{Rev: 1, Live: false}, long); err != nil {
			t.Fatal(err)
		}
		if n := live(); n != 5 {
			t.Fatalf("Live = %d, want 5", n)
		}
		if err := st.Update(ctx, id(t, "0"), 1, Record{Rev: 1, Live: false}, long); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, id(t, "dead"), 1, Record{Rev: 2, Live: true}, long); err != nil {
			t.Fatal(err)
		}
		if n := live(); n != 5 {
			t.Fatalf("after one hangup and one revival: Live = %d, want 5", n)
		}
		if err := st.Create(ctx, id(t, "brief"), Record{Rev: 1, Live: true}, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if n := live(); n != 6 {
			t.Fatalf("Live = %d, want 6", n)
		}
		waitUntil(t, 3*time.Second, func() bool { return live() == 5 }, "the expired session to stop counting")
	})

	t.Run("ConcurrentUpdatesOneWins", func(t *testing.T) {
		st := fresh(t)
		k := id(t, "c")
		if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte("start")}, long); err != nil {
			t.Fatal(err)
		}
		const n = 40
		errs := make([]error, n)
		var wg sync.WaitGroup
		startGun := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGun
				errs[i] = st.Update(ctx, k, 1, Record{Rev: 2, Live: true, Data: []byte(fmt.Sprint("winner ", i))}, long)
			}()
		}
		close(startGun)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("goroutines %d and %d both advanced from step 1", winner, i)
				}
				winner = i
			case !errors.Is(err, ErrConflict):
				t.Fatalf("goroutine %d: %v, want nil or ErrConflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no update won")
		}
		got, _ := st.Get(ctx, k)
		if got.Rev != 2 || string(got.Data) != fmt.Sprint("winner ", winner) {
			t.Fatalf("stored %+v, want the winner's (%d) record", got, winner)
		}
	})

	t.Run("ConcurrentCreatesOneWins", func(t *testing.T) {
		st := fresh(t)
		k := id(t, "c")
		const n = 40
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = st.Create(ctx, k, Record{Rev: 1, Live: true, Data: []byte(fmt.Sprint(i))}, long)
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
			} else if !errors.Is(err, ErrExists) {
				t.Fatalf("goroutine %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d creates won, want 1", won)
		}
	})

	t.Run("ConcurrentCalls", func(t *testing.T) {
		// Many calls advancing at once, each through its steps in order,
		// some goroutines racing on the same call: every call ends at its
		// last step, every step taken exactly once.
		st := fresh(t)
		const calls, steps, racers = 20, 8, 3
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string]int{}
		for c := range calls {
			k := id(t, fmt.Sprint(c))
			if err := st.Create(ctx, k, Record{Rev: 1, Live: true}, long); err != nil {
				t.Fatal(err)
			}
			for range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						rec, err := st.Get(ctx, k)
						if err != nil {
							t.Error(err)
							return
						}
						if rec.Rev >= steps {
							return
						}
						err = st.Update(ctx, k, rec.Rev, Record{Rev: rec.Rev + 1, Live: true, Data: []byte(fmt.Sprint(rec.Rev + 1))}, long)
						if err == nil {
							mu.Lock()
							won[fmt.Sprint(k, rec.Rev)]++
							mu.Unlock()
						} else if !errors.Is(err, ErrConflict) {
							t.Error(err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		if len(won) != calls*(steps-1) {
			t.Fatalf("%d steps advanced, want %d", len(won), calls*(steps-1))
		}
		for k, n := range won {
			if n != 1 {
				t.Fatalf("%s advanced %d times", k, n)
			}
		}
		if n, _ := st.Live(ctx); n != calls {
			t.Fatalf("Live = %d, want %d", n, calls)
		}
	})

	t.Run("Close", func(t *testing.T) {
		st := open(t)
		if err := st.Create(ctx, id(t, "c"), Record{Rev: 1}, long); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// waitUntil polls cond until it holds or the time is up.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	testStoreContract(t, func(t *testing.T) Store { return NewMemory() })
}

func TestBoltStoreContract(t *testing.T) {
	t.Parallel()
	testStoreContract(t, func(t *testing.T) Store {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestBoltSurvivesReopen: the embedded store keeps sessions and versions
// across a close (a restart), with their TTLs.
func TestBoltSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "s.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Path() != path {
		t.Fatalf("Path = %s", b.Path())
	}
	_ = b.Create(ctx, "live", Record{Rev: 3, Live: true, Data: []byte("kept")}, time.Hour)
	_ = b.Create(ctx, "brief", Record{Rev: 1, Live: true, Data: []byte("gone")}, 50*time.Millisecond)
	_ = b.PutVersion(ctx, "ivr", "v1", []byte("src"), time.Hour)
	// A second process cannot open the same file.
	if _, err := openBoltTimeout(path, 100*time.Millisecond); err == nil {
		t.Fatal("a second open of a locked store succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	b, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if rec, err := b.Get(ctx, "live"); err != nil || rec.Rev != 3 || !rec.Live || string(rec.Data) != "kept" {
		t.Fatalf("after reopen: %+v %v", rec, err)
	}
	if _, err := b.Get(ctx, "brief"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired record came back: %v", err)
	}
	if src, err := b.GetVersion(ctx, "ivr", "v1"); err != nil || string(src) != "src" {
		t.Fatalf("version after reopen: %q %v", src, err)
	}
	if err := b.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Live(ctx); n != 1 {
		t.Fatalf("Live after sweep = %d", n)
	}
}

// openBoltTimeout tries to open a store file held by another Bolt, in a
// goroutine, since bbolt waits for the file lock up to its timeout.
func openBoltTimeout(path string, d time.Duration) (*Bolt, error) {
	type res struct {
		b   *Bolt
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := OpenBolt(path)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.b != nil {
			r.b.Close()
		}
		return r.b, r.err
	case <-time.After(d):
		// Still waiting for the lock: as good as refused. Let it finish.
		go func() {
			if r := <-ch; r.b != nil {
				r.b.Close()
			}
		}()
		return nil, errors.New("locked")
	}
}

// TestMemorySweep: expired records leave the store, their memory is
// given back, the space is used again by the next calls, and the sweep
// rests between batches.
func TestMemorySweep(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	defer m.Close()
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	fill := func(prefix string) {
		for i := range 20000 {
			id := fmt.Sprintf("%s-%d", prefix, i)
			rec := Record{Rev: 1, Live: true, Data: bytes.Repeat([]byte("s"), 700), Entry: bytes.Repeat([]byte("e"), 400)}
			if err := m.Create(ctx, id, rec, time.Minute); err != nil {
				t.Fatal(err)
			}
			for seq := 1; seq < 5; seq++ {
				rec := Record{Rev: seq + 1, Live: true, Data: bytes.Repeat([]byte("t"), 600+seq), Entry: []byte("entry"), Seq: seq}
				if err := m.Update(ctx, id, seq, rec, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	m.mu.RLock()
	empty := m.slab.inUse()
	m.mu.RUnlock()
	fill("a")
	_ = m.PutVersion(ctx, "f", "v", []byte("s"), time.Minute)
	m.mu.RLock()
	full := m.slab.inUse()
	m.mu.RUnlock()
	now = now.Add(2 * time.Minute)
	// 20,000 removals are milliseconds of work: the sweep must rest
	// between its batches (it stops for sweepRest after each sweepWork).
	rests := 0
	m.rest = func() { rests++ }
	m.Sweep()
	if rests == 0 {
		t.Error("the sweep of 20,000 expired calls never rested")
	}
	m.mu.RLock()
	n, v, left := m.index.count(t)+len(m.collided), len(m.versions), m.slab.inUse()
	m.mu.RUnlock()
	if n != 0 || v != 0 {
		t.Fatalf("after sweep: %d calls, %d versions", n, v)
	}
	// One chunk per size class may stay.
	if left > empty+len(slabSizes)*slabChunkSize {
		t.Fatalf("after sweep the slab holds %d bytes (%d full, %d empty): expired calls' memory was kept", left, full, empty)
	}
	fill("b")
	m.mu.RLock()
	again := m.slab.inUse()
	slots := m.slots.n
	m.mu.RUnlock()
	if again > full+len(slabSizes)*slabChunkSize || slots != 20000 {
		t.Fatalf("the next calls took %d bytes and %d slots, the first %d bytes and 20000 slots", again, slots, full)
	}
}

// TestMemorySweepStopsOnClose: a sweep under way when the store closes
// stops at its next batch, leaving the calls it has not reached.
func TestMemorySweepStopsOnClose(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	const calls = 20000
	for i := range calls {
		if err := m.Create(ctx, fmt.Sprintf("c-%d", i), Record{Rev: 1, Live: true, Data: bytes.Repeat([]byte("s"), 300)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute)
	m.rest = func() { m.Close() } // closed at the sweep's first rest
	m.Sweep()
	m.mu.RLock()
	left := m.index.count(t)
	m.mu.RUnlock()
	if left == 0 || left == calls {
		t.Fatalf("%d of %d calls left after a sweep closed midway", left, calls)
	}
}

func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url  string
		kind string
	}{
		{"memory:", "*runtime.Memory"},
		{"memory", "*runtime.Memory"},
		{"bolt:" + filepath.Join(dir, "a.db"), "*runtime.Bolt"},
		{"journal:" + filepath.Join(dir, "j"), "*runtime.Journal"},
	} {
		st, err := OpenStore(tc.url)
		if err != nil {
			t.Fatalf("OpenStore(%q): %v", tc.url, err)
		}
		if got := fmt.Sprintf("%T", st); got != tc.kind {
			t.Errorf("OpenStore(%q) = %s", tc.url, got)
		}
		st.Close()
	}
	if _, err := OpenStore("nosuch://x"); err == nil {
		t.Fatal("unknown store scheme accepted")
	}
}

// TestOpenDefaultStore: without --store, flowd keeps a journal in its
// state folder, unless an earlier flowd left its bbolt file there (and no
// journal): then it goes on with that, so an upgrade loses no live call.
func TestOpenDefaultStore(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	open := func() Store {
		t.Helper()
		st, err := OpenStore("")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	if j, ok := st.(*Journal); !ok || j.Dir() != filepath.Join(state, "flowd", "sessions") || DefaultStorePath() != j.Dir() {
		t.Fatalf("the default store: %T at %s", st, DefaultStorePath())
	}
	st.Close()

	// An earlier flowd's file, and no journal.
	if err := os.RemoveAll(DefaultStorePath()); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(LegacyStorePath())
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Create(context.Background(), "live", Record{Rev: 2, Live: true, Data: []byte("kept")}, time.Hour)
	b.Close()
	st = open()
	if rec, err := st.Get(context.Background(), "live"); err != nil || string(rec.Data) != "kept" {
		t.Fatalf("the default store with an earlier bbolt file: %T %v", st, err)
	}
	st.Close()

	// Once the journal exists (the operator moved), it is the store.
	if err := os.MkdirAll(DefaultStorePath(), 0o700); err != nil {
		t.Fatal(err)
	}
	if st = open(); fmt.Sprintf("%T", st) != "*runtime.Journal" {
		t.Fatalf("the default store with both: %T", st)
	}
	st.Close()
}

// TestBoltSweepReusesSpace: the sweep reads the expiry index, deletes
// expired calls with their traces in small writes, keeps the others, and
// the next calls reuse the space instead of growing the file.
func TestBoltSweepReusesSpace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Unix(1_800_000_000, 0)
	b.now = func() time.Time { return now }
	fillStore(t, b, 3000) // an hour's TTL
	if err := b.Create(ctx, "kept", Record{Rev: 1, Live: true, Data: []byte("k"), Entry: []byte("e")}, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	full := size()
	now = now.Add(2 * time.Hour)
	if err := b.Sweep(); err != nil {
		t.Fatal(err)
	}
	var calls, entries, index int
	_ = b.db.View(func(tx *bolt.Tx) error {
		calls, entries, index = tx.Bucket(bucketSessions).Stats().KeyN, tx.Bucket(bucketTrace).Stats().KeyN, tx.Bucket(bucketExpiry).Stats().KeyN
		return nil
	})
	if calls != 1 || entries != 1 || index != 1 {
		t.Fatalf("after the sweep: %d calls, %d trace entries, %d index entries; want the one kept call's", calls, entries, index)
	}
	if tr, _ := b.Trace(ctx, "kept"); len(tr) != 1 {
		t.Fatalf("the kept call's trace: %q", tr)
	}
	fillStore(t, b, 3000)
	if grown := size(); grown > full+full/4 {
		t.Fatalf("the file grew from %d to %d bytes for as many calls after a sweep", full, grown)
	}
}

// TestBoltDropsEarlierLayout: a file of the earlier layout (calls with a
// 17-byte header, traces keyed by call id) opens as an empty store.
func TestBoltDropsEarlierLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"sessions", "versions", "trace", "expiry"} {
			bk, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := bk.Put([]byte("c1"), make([]byte, 17+8)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Get(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a call of the earlier layout: %v", err)
	}
	if _, err := b.GetVersion(ctx, "c1", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a version of the earlier layout: %v", err)
	}
	if err := b.Create(ctx, "c1", Record{Rev: 1, Live: true, Data: []byte("s"), Entry: []byte("e")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if tr, err := b.Trace(ctx, "c1"); err != nil || len(tr) != 1 {
		t.Fatalf("trace: %q %v", tr, err)
	}
}
