package runtime

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestStoresCopyWhatTheyKeep: a write's Data and Entry are the
// runtime's pooled buffers, used again once the write returns
// (txn.write, txn.stepXML), so a store must not keep them: what it
// returns later is what was written, whatever the buffers hold since.
func TestStoresCopyWhatTheyKeep(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"memory", func(t *testing.T) Store { return NewMemory() }},
		{"journal", func(t *testing.T) Store {
			st, err := OpenJournal(filepath.Join(t.TempDir(), "sessions"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"bolt", func(t *testing.T) Store {
			st, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"redis", func(t *testing.T) Store {
			st, err := OpenRedis(startRedis(t, false).URL)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := c.open(t)
			t.Cleanup(func() { _ = st.Close() })
			ctx := context.Background()
			data, entry := []byte(`{"state":1}`), []byte(`{"step":1}`)
			if err := st.Create(ctx, "c1", Record{Rev: 1, Live: true, Data: data, Entry: entry}, time.Hour); err != nil {
				t.Fatal(err)
			}
			scribble := func() {
				for _, b := range [][]byte{data, entry} {
					for i := range b {
						b[i] = 'x'
					}
				}
			}
			scribble()
			data, entry = []byte(`{"state":2}`), []byte(`{"step":2}`)
			if err := st.Update(ctx, "c1", 1, Record{Rev: 2, Live: true, Data: data, Entry: entry, Seq: 1}, time.Hour); err != nil {
				t.Fatal(err)
			}
			scribble()
			rec, err := st.Get(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Data) != `{"state":2}` {
				t.Fatalf("Data %q, want what was written", rec.Data)
			}
			trace, err := st.Trace(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if len(trace) != 2 || !bytes.Equal(trace[0], []byte(`{"step":1}`)) || !bytes.Equal(trace[1], []byte(`{"step":2}`)) {
				t.Fatalf("trace %q, want what was written", trace)
			}
		})
	}
}
