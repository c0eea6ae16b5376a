//go:build unix

package runtime

import (
	"bytes"
	"net/http"
	"os"
	goruntime "runtime"
	"testing"
)

// TestMemPerSession measures the heap a live call's session takes on the
// memory store: 100,000 calls answered through the answer webhook of the
// IVR example, with a realistic Plivo body. It allocates a few hundred MB,
// so it runs only with FLOWD_MEMTEST=1:
//
//	FLOWD_MEMTEST=1 go test ./runtime -run MemPerSession -v
func TestMemPerSession(t *testing.T) {
	if os.Getenv("FLOWD_MEMTEST") != "1" {
		t.Skip("set FLOWD_MEMTEST=1 to measure memory per session")
	}
	const (
		calls = 100_000
		limit = 2048 // bytes per session
	)
	st := NewMemory()
	defer st.Close()
	srv := benchServer(t, st)
	var buf []byte
	var rd bytes.Reader
	w := newBenchWriter()
	// One call first, so what the first webhook builds once (the pinned
	// version, metric series, pools) is not counted against the sessions.
	srv.ServeHTTP(w, benchRequest(benchForm(&buf, 1<<40), &rd))
	if w.code != http.StatusOK {
		t.Fatalf("answer: %d %s", w.code, w.body.Bytes())
	}
	before := memtestHeap()
	for i := range uint64(calls) {
		w.reset()
		srv.ServeHTTP(w, benchRequest(benchForm(&buf, i), &rd))
		if w.code != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, w.code, w.body.Bytes())
		}
	}
	after := memtestHeap()
	goruntime.KeepAlive(srv)
	if n, _ := st.Live(t.Context()); n != calls+1 {
		t.Fatalf("store holds %d live sessions, want %d", n, calls+1)
	}
	rec, err := st.Get(t.Context(), memtestID(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	per := float64(int64(after)-int64(before)) / calls
	t.Logf("%d sessions: heap %d → %d bytes: %.0f bytes/session (encoded session %d bytes; limit %d)",
		calls, before, after, per, len(rec.Data), limit)
	if per > limit {
		t.Errorf("%.0f bytes per session, want at most %d", per, limit)
	}
}

// memtestHeap returns the live heap after a full collection.
func memtestHeap() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memtestID returns the CallUUID benchForm gives call n.
func memtestID(t *testing.T, n uint64) string {
	var buf []byte
	form := benchForm(&buf, n)
	_, id, ok := bytes.Cut(form, []byte("CallUUID="))
	if !ok {
		t.Fatal("no CallUUID in the form")
	}
	return string(id)
}
