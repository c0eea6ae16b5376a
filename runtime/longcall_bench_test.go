package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A call's cost must not grow with its length: the call state every
// webhook reads and writes is bounded, and the trace grows beside it,
// trimmed to its first and latest entries.
//
//	go test ./runtime -run XXX -bench LongCall -benchmem -count 5
//
// BenchmarkLongCall measures one callback of the IVR example's menu loop
// (press 9: hear the menu again) at step 2 and at step 1,000 of the same
// kind of call, on the memory, journal and bolt stores; state-B is the encoded
// call state at that step.
func BenchmarkLongCall(b *testing.B) {
	for _, store := range []string{"memory", "journal", "bolt"} {
		for _, at := range []int{2, 1000} {
			b.Run(fmt.Sprintf("%s/step%d", store, at), func(b *testing.B) {
				st := benchStore(b, store)
				srv := benchServer(b, st)
				lc := newLongCall(b, srv, st)
				lc.advanceTo(b, at)
				snap, err := st.Get(context.Background(), lc.id)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if at > 2 {
						// A long call goes on: step 1,000, 1,001, and so on.
						lc.press9(b, lc.step)
						lc.step++
						continue
					}
					// A short call is a new call each round, brought to
					// step 2 untimed. (Putting a call's state back to an
					// earlier step, as this benchmark once did, leaves the
					// trace entries written since: their table grew with
					// b.N, and so did the cost measured.)
					lc.press9(b, lc.step)
					b.StopTimer()
					lc = newLongCall(b, srv, st)
					lc.advanceTo(b, at)
					b.StartTimer()
				}
				b.ReportMetric(float64(len(snap.Data)), "state-B")
			})
		}
	}
}

// TestLongCallStateBounded: the stored state of a looping call is the same
// size at step 1,000 as at step 10 (within the digits of its counters), and
// its trace keeps the first and latest entries and counts the rest.
func TestLongCallStateBounded(t *testing.T) {
	st := NewMemory()
	defer st.Close()
	srv := benchServer(t, st)
	lc := newLongCall(t, srv, st)
	size := func() int {
		rec, err := st.Get(context.Background(), lc.id)
		if err != nil {
			t.Fatal(err)
		}
		return len(rec.Data)
	}
	lc.advanceTo(t, 10)
	at10 := size()
	lc.advanceTo(t, 1000)
	at1000 := size()
	if at1000 > at10+32 {
		t.Errorf("call state: %d bytes at step 10, %d at step 1,000: it grows with the call", at10, at1000)
	}
	// Plivo's answer parameters, the menu's XML and a callback's values:
	// a short call's state fits in 1 KiB.
	if at10 > 1024 {
		t.Errorf("call state at step 10 is %d bytes, want at most 1 KiB", at10)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/calls/"+lc.id, nil)
	req.Header.Set("Authorization", "Bearer bench-token")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	sess, err := DecodeSession(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	first, last := sess.Trace[0], sess.Trace[len(sess.Trace)-1]
	if len(sess.Trace) != 150 || first.Step != 1 || last.Step != 1000 || sess.Omitted != 1000-150 {
		t.Errorf("trace: %d steps (%d to %d), %d omitted; want 150 (1 to 1000), 850 omitted", len(sess.Trace), first.Step, last.Step, sess.Omitted)
	}
}

// longCall is one IVR call walked round its menu loop.
type longCall struct {
	srv  *Server
	st   Store
	id   string
	step int
}

func newLongCall(tb testing.TB, srv *Server, st Store) *longCall {
	tb.Helper()
	var buf []byte
	var rd bytes.Reader
	n := benchSeq.Add(1)
	body := benchForm(&buf, n)
	w := newBenchWriter()
	srv.ServeHTTP(w, benchRequest(body, &rd))
	if w.code != http.StatusOK {
		tb.Fatalf("answer: %d", w.code)
	}
	id := string(bytes.TrimPrefix(body, []byte(benchFormHead)))
	return &longCall{srv: srv, st: st, id: id, step: 1}
}

// press9 sends the menu's callback of the given step with Digits=9.
func (lc *longCall) press9(tb testing.TB, step int) {
	req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("/flows/ivr/calls/%d/menu/action", step),
		strings.NewReader("CallUUID="+lc.id+"&Digits=9&CallStatus=in-progress&Direction=inbound"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := newBenchWriter()
	lc.srv.ServeHTTP(w, req)
	if w.code != http.StatusOK || !bytes.Contains(w.body.Bytes(), []byte("<GetDigits")) {
		tb.Fatalf("step %d: %d %s", step, w.code, w.body.Bytes())
	}
}

func (lc *longCall) advanceTo(tb testing.TB, step int) {
	for ; lc.step < step; lc.step++ {
		lc.press9(tb, lc.step)
	}
}
