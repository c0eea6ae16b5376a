package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A webhook must cost the same whether the store holds ten thousand calls
// or a million.
//
//	FLOWD_BENCH_STORED=1000000 go test ./runtime -run XXX -bench StoredCalls -benchmem -count 3
//
// BenchmarkStoredCalls measures the answer webhook of the IVR example
// with 10,000 and with FLOWD_BENCH_STORED (default 200,000) other calls
// stored, each with a realistic state and a trace of five entries, on the
// memory, journal and bolt stores. The other calls are written straight into the
// store (untimed), the way the answer webhook would leave them.
func BenchmarkStoredCalls(b *testing.B) {
	many := 200_000
	if v := os.Getenv("FLOWD_BENCH_STORED"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("FLOWD_BENCH_STORED=%q: %v", v, err)
		}
		many = n
	}
	for _, store := range []string{"memory", "journal", "bolt"} {
		for _, n := range []int{10_000, many} {
			b.Run(fmt.Sprintf("%s/%d", store, n), func(b *testing.B) {
				st := benchStore(b, store)
				fillStore(b, st, n)
				srv := benchServer(b, st)
				var buf []byte
				var rd bytes.Reader
				w := newBenchWriter()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					w.reset()
					srv.ServeHTTP(w, benchRequest(benchForm(&buf, uint64(1<<40+i)), &rd))
					if w.code != 200 {
						b.Fatalf("answer: %d", w.code)
					}
				}
			})
		}
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
