package runtime

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// callHub keeps the live calls of this process for the console, and tells
// the console's open streams (GET /ui/api/events) as they move.
//
// Every write of a call's state publishes it (txn.write). Publishing
// never waits for a reader: each stream has a buffer, and a stream whose
// buffer is full misses the change and is marked lagged, and catches up
// from a fresh list of the calls instead. With no stream open, publishing
// is a map update under a lock.
//
// The hub knows the calls this process served: a webhook answered by
// another replica moves its call on that replica's console, not on this
// one. A call leaves the list when the flow ends or the caller hangs up,
// after SessionTTL without a webhook (its hangup never came), and the
// list holds at most maxLiveCalls: calls past that are not listed.
type callHub struct {
	now func() time.Time
	ttl time.Duration

	mu     sync.Mutex
	calls  map[string]LiveCall
	subs   map[*callStream]struct{}
	nsubs  atomic.Int32
	swept  int64 // the Unix minute of the latest sweep of expired calls
	missed uint64
	done   chan struct{}
	closed bool
}

// LiveCall is a call as the console lists it.
type LiveCall struct {
	CallUUID string    `json:"call_uuid"`
	Flow     string    `json:"flow"`
	Version  string    `json:"version"`
	Wait     string    `json:"wait"` // the node whose callback the call waits for
	Step     int       `json:"step"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"` // the call's latest state write
}

// callChange is what a stream is told: a call's new state, or that it
// left the list.
type callChange struct {
	call LiveCall
	gone bool
}

// callStream is one open stream's subscription.
type callStream struct {
	ch     chan callChange
	lagged atomic.Bool
}

const (
	// maxLiveCalls bounds the calls the console lists.
	maxLiveCalls = 10000
	// maxCallStreams bounds the streams open at once.
	maxCallStreams = 64
	// streamBuffer is the changes a stream may fall behind by before it
	// misses some and catches up from the list.
	streamBuffer = 1024
)

func newCallHub(now func() time.Time, ttl time.Duration) *callHub {
	return &callHub{now: now, ttl: ttl, calls: map[string]LiveCall{}, subs: map[*callStream]struct{}{}, done: make(chan struct{})}
}

// publish records a call's stored state. A state written with a claim is
// a step whose side effects are under way: the call has not moved yet.
func (h *callHub) publish(st *CallState) {
	if st.Claim != nil {
		return
	}
	now := h.now()
	live := st.Status == StatusLive
	h.mu.Lock()
	defer h.mu.Unlock()
	if minute := now.Unix() / 60; minute != h.swept {
		h.swept = minute
		h.sweep(now)
	}
	old, had := h.calls[st.CallUUID]
	switch {
	case !live && !had:
		return
	case !live:
		delete(h.calls, st.CallUUID)
		h.tell(callChange{call: old, gone: true})
		return
	case had && old.Step == st.Step && old.Wait == st.Wait:
		// An event recorded in the trace: the call did not move.
		old.Updated = now
		h.calls[st.CallUUID] = old
		return
	case !had && len(h.calls) >= maxLiveCalls:
		h.missed++
		return
	}
	c := LiveCall{CallUUID: st.CallUUID, Flow: st.Flow, Version: st.Version, Wait: st.Wait, Step: st.Step,
		Status: st.Status, Started: st.Started, Updated: now}
	h.calls[st.CallUUID] = c
	h.tell(callChange{call: c})
}

// tell hands a change to every stream that has room for it; the others
// are marked lagged. Called with h.mu held, so streams see changes in
// the order they were made.
func (h *callHub) tell(c callChange) {
	if h.nsubs.Load() == 0 {
		return
	}
	for s := range h.subs {
		select {
		case s.ch <- c:
		default:
			s.lagged.Store(true)
		}
	}
}

// sweep drops the calls no webhook has written for the session TTL: their
// sessions have expired. Called with h.mu held.
func (h *callHub) sweep(now time.Time) {
	for id, c := range h.calls {
		if now.Sub(c.Updated) > h.ttl {
			delete(h.calls, id)
			h.tell(callChange{call: c, gone: true})
		}
	}
}

// list returns the live calls, the latest started first. Called with
// h.mu held.
func (h *callHub) list() []LiveCall {
	now := h.now()
	out := make([]LiveCall, 0, len(h.calls))
	for _, c := range h.calls {
		if now.Sub(c.Updated) <= h.ttl {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b LiveCall) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(a.CallUUID, b.CallUUID)
	})
	return out
}

// Calls returns the live calls, the latest started first.
func (h *callHub) Calls() []LiveCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.list()
}

// subscribe opens a stream: its changes, and the calls as they stand
// when they start. ok is false when the hub is closed or too many streams
// are open.
func (h *callHub) subscribe() (s *callStream, calls []LiveCall, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.subs) >= maxCallStreams {
		return nil, nil, false
	}
	s = &callStream{ch: make(chan callChange, streamBuffer)}
	h.subs[s] = struct{}{}
	h.nsubs.Add(1)
	return s, h.list(), true
}

// resync empties a lagged stream's buffer and returns the calls as they
// stand: the stream goes on from there.
func (h *callHub) resync(s *callStream) []LiveCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(s.ch) > 0 {
		<-s.ch
	}
	s.lagged.Store(false)
	return h.list()
}

func (h *callHub) unsubscribe(s *callStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.nsubs.Add(-1)
	}
}

// close ends every stream, and refuses new ones.
func (h *callHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}
