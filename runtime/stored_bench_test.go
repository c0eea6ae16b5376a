package runtime

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A webhook must cost the same whether the store holds ten thousand calls
// or a million.
//
//	FLOWD_BENCH_STORED=1000000 go test ./runtime -run XXX -bench StoredCalls -benchmem -count 3
//
//	FLOWD_BENCH_STORED=1000000 FLOWD_BENCH_RESERVE_GIB=6 go test ./runtime -run XXX -bench StoredCalls/memory -benchmem -count 3
//
// BenchmarkStoredCalls measures the answer webhook of the IVR example
// with 10,000 and with FLOWD_BENCH_STORED (default 200,000) other calls
// stored, each with a realistic state and a trace of five entries, on the
// memory, journal and bolt stores. FLOWD_BENCH_RESERVE_GIB reserves that
// much memory for stored calls first (ReserveMemory, flowd serve
// --reserve-memory): on a virtual machine whose host takes freed memory
// back, the million calls otherwise land on pages the host provides one
// fault at a time, a cost of the machine and not of the calls held. The other calls are written straight into the
// store (untimed), the way the answer webhook would leave them. The
// durable stores are measured with concurrent webhooks (16 per
// GOMAXPROCS), the memory store one at a time.
func BenchmarkStoredCalls(b *testing.B) {
	many := 200_000
	if v := os.Getenv("FLOWD_BENCH_STORED"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("FLOWD_BENCH_STORED=%q: %v", v, err)
		}
		many = n
	}
	if v := os.Getenv("FLOWD_BENCH_RESERVE_GIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("FLOWD_BENCH_RESERVE_GIB=%q: %v", v, err)
		}
		if _, err := ReserveMemory(int64(n) << 30); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _, _ = ReserveMemory(0) })
	}
	for _, store := range []string{"memory", "journal", "bolt"} {
		for _, n := range []int{10_000, many} {
			b.Run(fmt.Sprintf("%s/%d", store, n), func(b *testing.B) {
				var st Store
				// After the store's Close (cleanups run last first): the
				// testing package keeps each case's closures, and so the
				// store, reachable, so its own cleanup would never run.
				b.Cleanup(func() { freeStoreChunks(st) })
				st = benchStore(b, store)
				fillStore(b, st, n)
				srv := benchServer(b, st)
				// A durable store answers one webhook per flush when they
				// come one at a time (the disk's latency): concurrent
				// webhooks share flushes, as on a busy server.
				benchServe(b, srv, store != "memory")
			})
		}
	}
}

// freeStoreChunks gives the chunks of a closed memory store or journal
// back at once, to the reserve if there is one.
func freeStoreChunks(st Store) {
	switch s := st.(type) {
	case *Memory:
		s.slab.freeChunks()
	case *Journal:
		s.mem.slab.freeChunks()
	}
}

// fillStore writes n calls into a store: a state like the IVR answer's
// and five trace entries each.
func fillStore(tb testing.TB, st Store, n int) {
	tb.Helper()
	state := bytes.Repeat([]byte("s"), 960)
	entry := bytes.Repeat([]byte("e"), 700)
	id := func(i int) string { return fmt.Sprintf("stored-%08x-3d4e-4f50-8a61-%012d", i*7919, i) }
	switch s := st.(type) {
	case *Bolt:
		// Big transactions: the webhooks' one-commit-per-group path
		// would take minutes for a million calls.
		const batch = 20_000
		for start := 0; start < n; start += batch {
			err := s.db.Update(func(tx *bolt.Tx) error {
				for i := start; i < min(start+batch, n); i++ {
					k := id(i)
					v := s.encode(Record{Rev: 5, Live: true, Data: state}, time.Hour)
					if err := putCall(tx, k, nil, v); err != nil {
						return err
					}
					for seq := range 5 {
						if err := tx.Bucket(bucketTrace).Put(traceKey(k, created(v), seq), entry); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				tb.Fatal(err)
			}
		}
	case *Journal:
		// The webhooks' own writes, without waiting for each flush: the
		// writer then flushes large batches.
		var last *jBatch
		write := func(k string, rec Record, create bool) {
			m := s.mem
			m.mu.Lock()
			defer m.mu.Unlock()
			var slot *memSlot
			if create {
				var err error
				if slot, err = m.create(k, rec, m.now().Add(time.Hour).UnixNano()); err != nil {
					tb.Fatal(err)
				}
				last = s.logCall(jCreate, slot, k, rec)
				return
			}
			slot, _ = m.get(k)
			m.update(slot, k, rec, m.now().Add(time.Hour).UnixNano())
			last = s.logCall(jUpdate, slot, k, rec)
		}
		for i := range n {
			k := id(i)
			write(k, Record{Rev: 1, Live: true, Data: state, Entry: entry}, true)
			for seq := 1; seq < 5; seq++ {
				write(k, Record{Rev: seq + 1, Live: true, Data: state, Entry: entry, Seq: seq}, false)
			}
		}
		if err := s.wait(last); err != nil {
			tb.Fatal(err)
		}
		// A snapshot the fill started is not what a webhook pays.
		waitSnapshot(s)
	default:
		ctx := context.Background()
		for i := range n {
			k := id(i)
			if err := st.Create(ctx, k, Record{Rev: 1, Live: true, Data: state, Entry: entry}, time.Hour); err != nil {
				tb.Fatal(err)
			}
			for seq := 1; seq < 5; seq++ {
				if err := st.Update(ctx, k, seq, Record{Rev: seq + 1, Live: true, Data: state, Entry: entry, Seq: seq}, time.Hour); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkJournalSnapshot measures answer webhooks on the journal store
// holding FLOWD_BENCH_STORED (default 200,000) calls, from 32 concurrent
// senders: for 3 s with nothing else going on ("steady"), while a
// snapshot of the calls is written ("snapshot"), and while they all
// expire and the sweep removes them ("sweep"). b.N is ignored: run with
// -benchtime 1x. It reports webhooks a second, p99 and max latency, and
// how long the snapshot or sweep took.
//
//	go test ./runtime -run XXX -bench JournalSnapshot -benchtime 1x
func BenchmarkJournalSnapshot(b *testing.B) {
	many := 200_000
	if v := os.Getenv("FLOWD_BENCH_STORED"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			many = n
		}
	}
	// A clock that the sweep moves on by two hours: every stored call
	// expires.
	var later atomic.Int64
	mem := NewMemory()
	mem.now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	j, err := openJournal(b.TempDir(), mem, jSegmentSize, jSnapMin)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	fillStore(b, j, many)
	srv := benchServer(b, j)
	for _, name := range []string{"steady", "snapshot", "sweep"} {
		b.Run(name, func(b *testing.B) {
			var took time.Duration
			stop := make(chan struct{})
			run := func(fn func()) {
				go func() {
					time.Sleep(100 * time.Millisecond) // the load first
					t0 := time.Now()
					fn()
					took = time.Since(t0)
					close(stop)
				}()
			}
			switch name {
			case "steady":
				time.AfterFunc(3*time.Second, func() { close(stop) })
			case "snapshot":
				run(j.compact)
			case "sweep":
				later.Store(int64(2 * time.Hour))
				run(j.Sweep)
			}
			lat := benchLoad(b, srv, 32, stop)
			if took > 0 {
				b.ReportMetric(took.Seconds(), name+"-s")
			}
			end := slices.MaxFunc(lat, func(x, y benchLat) int { return cmp.Compare(x.since, y.since) }).since
			slices.SortFunc(lat, func(x, y benchLat) int { return cmp.Compare(x.d, y.d) })
			b.ReportMetric(float64(len(lat))/end, "webhooks/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].d.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].d.Microseconds())/1000, "max-ms")
		})
	}
}

// benchLat is one webhook's latency, and when it ended (seconds since the
// load started).
type benchLat struct {
	since float64
	d     time.Duration
}

// benchLoad sends answer webhooks to h from n goroutines until stop is
// closed, and returns their latencies in the order they ended.
func benchLoad(b *testing.B, h http.Handler, n int, stop chan struct{}) []benchLat {
	var mu sync.Mutex
	var all []benchLat
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			var rd bytes.Reader
			w := newBenchWriter()
			var mine []benchLat
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				w.reset()
				t0 := time.Now()
				h.ServeHTTP(w, benchRequest(benchForm(&buf, benchSeq.Add(1)), &rd))
				if w.code != http.StatusOK {
					b.Errorf("answer: %d", w.code)
				}
				mine = append(mine, benchLat{since: time.Since(start).Seconds(), d: time.Since(t0)})
			}
		}()
	}
	wg.Wait()
	return all
}

// The memory store's sweep (and so the journal's) must leave the
// processor to webhooks: flowd serve runs the memory store on one.
//
//	go test ./runtime -run XXX -bench Sweep -benchtime 1x -cpu 1
//
// BenchmarkSweep fills a memory store with FLOWD_BENCH_SWEPT (default
// 1,000,000) calls, a 300-byte state and one trace entry each, and sweeps
// it: with none of them expired ("scan", what most sweeps of a busy
// server do) and with all of them expired ("expire"). Meanwhile a
// goroutine asks for the processor every 100 µs, as a webhook whose
// request arrives does; it reports the longest that goroutine waited for
// it ("held-max-ms"; a millisecond or so when nothing else runs: an idle
// runtime sleeps in whole milliseconds), and how long the sweep took.
func BenchmarkSweep(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("FLOWD_BENCH_SWEPT"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("FLOWD_BENCH_SWEPT=%q: %v", v, err)
		}
	}
	state, entry := bytes.Repeat([]byte("s"), 300), bytes.Repeat([]byte("e"), 200)
	for _, name := range []string{"scan", "expire"} {
		b.Run(name, func(b *testing.B) {
			m := NewMemory()
			b.Cleanup(func() { m.Close(); freeStoreChunks(m) })
			var later atomic.Int64
			m.now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
			ctx := context.Background()
			for i := range n {
				id := fmt.Sprintf("swept-%08x-3d4e-4f50-8a61-%012d", i*7919, i)
				if err := m.Create(ctx, id, Record{Rev: 1, Live: true, Data: state, Entry: entry}, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			if name == "expire" {
				later.Store(int64(2 * time.Hour))
			}
			stop, done := make(chan struct{}), make(chan time.Duration)
			go func() {
				var worst time.Duration
				last := time.Now()
				for {
					select {
					case <-stop:
						done <- worst
						return
					default:
					}
					time.Sleep(100 * time.Microsecond)
					now := time.Now()
					worst = max(worst, now.Sub(last))
					last = now
				}
			}()
			time.Sleep(10 * time.Millisecond) // the prober running first
			b.ResetTimer()
			t0 := time.Now()
			m.Sweep()
			took := time.Since(t0)
			b.StopTimer()
			close(stop)
			worst := <-done
			if left, err := m.Live(ctx); err != nil || name == "expire" && left != 0 {
				b.Fatalf("%d calls live after the sweep (%v)", left, err)
			}
			b.ReportMetric(float64(took.Microseconds())/1000, "sweep-ms")
			b.ReportMetric(float64(worst.Microseconds())/1000, "held-max-ms")
		})
	}
}
