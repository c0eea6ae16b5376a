package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func liveState(id string, step int, wait, status string) *CallState {
	return &CallState{CallUUID: id, Flow: "ivr", Version: "v1", Step: step, Wait: wait, Status: status,
		Started: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)}
}

// told is a change as a stream reads it.
type told struct {
	call        LiveCall
	gone, added bool
}

// next returns the change a stream was told, or fails.
func next(t *testing.T, h *callHub, s *callStream) told {
	t.Helper()
	select {
	case c := <-s.ch:
		return told{call: c.entry.call(&c.key, h.nameTable()), gone: c.gone, added: c.added}
	default:
		t.Fatal("the stream was told nothing")
		return told{}
	}
}

func quiet(t *testing.T, s *callStream) {
	t.Helper()
	select {
	case c := <-s.ch:
		t.Fatalf("the stream was told %+v", c)
	default:
	}
}

// TestCallHub: a call is listed while it is live, with the node it waits
// at; streams are told each move, in order, and when it leaves (the flow
// ended, the caller hung up). A claim, or an event that does not move the
// call, tells nothing.
func TestCallHub(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return now }, time.Hour)
	h.publish(liveState("a", 1, "menu", StatusLive)) // before the stream: in its first list
	s, calls, total, ok := h.subscribe()
	if !ok || total != 1 || len(calls) != 1 || calls[0].CallUUID != "a" || calls[0].Wait != "menu" {
		t.Fatalf("subscribe: %v %d %+v", ok, total, calls)
	}
	defer h.unsubscribe(s)

	h.publish(liveState("b", 1, "menu", StatusLive))
	if c := next(t, h, s); c.gone || !c.added || c.call.CallUUID != "b" || c.call.Step != 1 || !c.call.Updated.Equal(now) || c.call.Flow != "ivr" || c.call.Version != "v1" {
		t.Errorf("new call: %+v", c)
	}
	claimed := liveState("b", 1, "menu", StatusLive)
	claimed.Claim = &Claim{Key: "2/menu/action"}
	h.publish(claimed)
	h.publish(liveState("b", 1, "menu", StatusLive)) // an event in the trace
	quiet(t, s)

	h.publish(liveState("b", 2, "sales", StatusLive))
	if c := next(t, h, s); c.gone || c.added || c.call.Wait != "sales" || c.call.Step != 2 {
		t.Errorf("move: %+v", c)
	}
	h.publish(liveState("b", 3, "", StatusEnded))
	if c := next(t, h, s); !c.gone || c.call.CallUUID != "b" {
		t.Errorf("end: %+v", c)
	}
	h.publish(liveState("b", 4, "", StatusHungUp)) // its hangup, after: nothing more
	h.publish(liveState("a", 2, "menu", StatusHungUp))
	if c := next(t, h, s); !c.gone || c.call.CallUUID != "a" {
		t.Errorf("hangup: %+v", c)
	}
	h.publish(liveState("c", 0, "", StatusHungUp)) // a hangup before its answer
	quiet(t, s)
	if calls, total := h.Calls(); len(calls) != 0 || total != 0 {
		t.Errorf("calls left: %d %+v", total, calls)
	}
}

// TestCallHubExpires: a call no webhook wrote for the session TTL (its
// hangup never came) leaves the list, and the streams are told.
func TestCallHubExpires(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	now := t0
	h := newCallHub(func() time.Time { return now }, time.Hour)
	h.publish(liveState("old", 1, "menu", StatusLive))
	now = t0.Add(50 * time.Minute)
	h.publish(liveState("new", 1, "menu", StatusLive))
	s, _, _, _ := h.subscribe()
	defer h.unsubscribe(s)
	now = t0.Add(61 * time.Minute)
	if calls, total := h.Calls(); total != 1 || len(calls) != 1 || calls[0].CallUUID != "new" {
		t.Errorf("the list an hour on: %d %+v", total, calls)
	}
	h.publish(liveState("new", 2, "sales", StatusLive)) // the next minute's write sweeps
	if c := next(t, h, s); !c.gone || c.call.CallUUID != "old" {
		t.Errorf("expiry: %+v", c)
	}
	if c := next(t, h, s); c.gone || c.call.CallUUID != "new" {
		t.Errorf("move: %+v", c)
	}
	if n := len(h.calls); n != 1 {
		t.Errorf("the hub holds %d calls, want 1", n)
	}
}

// TestCallHubBounded: the hub keeps at most maxLiveCalls; past that new
// calls are not listed, and calls already listed still move. A list gives
// the latest started listMax calls, the latest first, and the number of
// all.
func TestCallHubBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return t0 }, time.Hour)
	for i := range maxLiveCalls + 5 {
		st := liveState(fmt.Sprintf("%06d", i), 1, "menu", StatusLive)
		st.Started = t0.Add(time.Duration(i%1000) * time.Second) // maxLiveCalls/1000 calls at each second
		h.publish(st)
	}
	calls, total := h.Calls()
	if total != maxLiveCalls || len(calls) != listMax {
		t.Fatalf("%d calls listed of %d, want %d of %d", len(calls), total, listMax, maxLiveCalls)
	}
	for i, c := range calls {
		// The latest second's calls, then the one before's, ...; the
		// calls of one second by id.
		perSec := maxLiveCalls / 1000
		sec, rank := 999-i/perSec, i%perSec
		if want := fmt.Sprintf("%06d", sec+rank*1000); c.CallUUID != want || !c.Started.Equal(t0.Add(time.Duration(sec)*time.Second)) {
			t.Fatalf("list[%d] = %s started %v, want %s", i, c.CallUUID, c.Started, want)
		}
	}
	h.publish(liveState("000000", 2, "sales", StatusLive))
	if k, _ := keyOf("000000"); h.names[h.calls[k].wait] != "sales" {
		t.Errorf("a listed call did not move: %+v", h.calls[k])
	}
	if h.missed != 5 {
		t.Errorf("missed %d calls, want 5", h.missed)
	}
}

// TestCallHubSlowStream: a stream that does not read never holds up a
// webhook: its changes past its buffer are dropped and it is marked
// lagged; resync gives it the list to go on from.
func TestCallHubSlowStream(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return now }, time.Hour)
	s, _, _, _ := h.subscribe()
	defer h.unsubscribe(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range streamBuffer + 100 {
			h.publish(liveState(fmt.Sprint(i), 1, "menu", StatusLive))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing waited for a stream that does not read")
	}
	if !s.lagged.Load() || len(s.ch) != streamBuffer {
		t.Fatalf("lagged %v with %d changes buffered", s.lagged.Load(), len(s.ch))
	}
	calls, total := h.resync(s)
	if total != streamBuffer+100 || len(calls) != listMax || len(s.ch) != 0 || s.lagged.Load() {
		t.Errorf("resync: %d calls of %d, %d buffered, lagged %v", len(calls), total, len(s.ch), s.lagged.Load())
	}
}

// TestCallHubNoStreamAllocs: with no stream open, a webhook's publish of
// a listed call that moves allocates nothing.
func TestCallHubNoStreamAllocs(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return now }, time.Hour)
	st := liveState("a", 1, "menu", StatusLive)
	h.publish(st)
	if n := testing.AllocsPerRun(1000, func() {
		st.Step++
		h.publish(st)
	}); n != 0 {
		t.Errorf("publish allocates %v times a call", n)
	}
}

// TestCallHubClose: closing ends the streams (done) and refuses new ones;
// too many streams are refused too.
func TestCallHubClose(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return now }, time.Hour)
	var streams []*callStream
	for range maxCallStreams {
		s, _, _, ok := h.subscribe()
		if !ok {
			t.Fatal("a stream below the limit was refused")
		}
		streams = append(streams, s)
	}
	if _, _, _, ok := h.subscribe(); ok {
		t.Error("a stream past the limit was opened")
	}
	h.unsubscribe(streams[0])
	h.close()
	h.close()
	select {
	case <-h.done:
	default:
		t.Error("close did not end the streams")
	}
	if _, _, _, ok := h.subscribe(); ok {
		t.Error("a closed hub opened a stream")
	}
}

// TestCallHubLongID: a CallUUID longer than the hub keeps (no call of
// Plivo's) is not listed; its call is served all the same.
func TestCallHubLongID(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := newCallHub(func() time.Time { return now }, time.Hour)
	h.publish(liveState(strings.Repeat("x", maxKeyLen+1), 1, "menu", StatusLive))
	h.publish(liveState(strings.Repeat("y", maxKeyLen), 1, "menu", StatusLive))
	calls, total := h.Calls()
	if total != 1 || len(calls) != 1 || calls[0].CallUUID != strings.Repeat("y", maxKeyLen) {
		t.Errorf("%d %+v", total, calls)
	}
}
