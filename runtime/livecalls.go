package runtime

import (
	"container/heap"
	"slices"
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
// hub keeps at most maxLiveCalls: calls past that are not listed. A list
// (to a new stream, or to one that fell behind) gives the latest started
// listMax calls and the number of all.
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
	call  LiveCall
	gone  bool
	added bool // the call was not listed before
}

// callStream is one open stream's subscription.
type callStream struct {
	ch     chan callChange
	lagged atomic.Bool
}

const (
	// maxLiveCalls bounds the calls the hub keeps: far more than one
	// process serves at once, a few tens of MB at most.
	maxLiveCalls = 100000
	// maxCallStreams bounds the streams open at once.
	maxCallStreams = 64
	// streamBuffer is the changes a stream may fall behind by before it
	// misses some and catches up from the list.
	streamBuffer = 2048
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
	h.tell(callChange{call: c, added: !had})
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

// listMax is how many calls a list gives: the latest started. A console
// shows that many; the stream's events, which say which calls are new,
// keep its count of all of them right.
const listMax = 500

// list returns the listMax latest started live calls, unsorted, and how
// many calls are live. Called with h.mu held, so it copies only what it
// returns.
func (h *callHub) list() ([]LiveCall, int) {
	now := h.now()
	latest := make(callHeap, 0, min(len(h.calls), listMax))
	total := 0
	for _, c := range h.calls {
		if now.Sub(c.Updated) > h.ttl {
			continue // expired: the next sweep drops it
		}
		total++
		switch {
		case len(latest) < listMax:
			heap.Push(&latest, c)
		case later(c, latest[0]):
			latest[0] = c
			heap.Fix(&latest, 0)
		}
	}
	return latest, total
}

// later reports whether a started after b (by call id when together).
func later(a, b LiveCall) bool {
	if c := a.Started.Compare(b.Started); c != 0 {
		return c > 0
	}
	return a.CallUUID < b.CallUUID
}

// callHeap keeps the latest started calls, the earliest of them on top.
type callHeap []LiveCall

func (q callHeap) Len() int           { return len(q) }
func (q callHeap) Less(i, j int) bool { return later(q[j], q[i]) }
func (q callHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *callHeap) Push(x any)        { *q = append(*q, x.(LiveCall)) }
func (q *callHeap) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// sortCalls puts the latest started call first.
func sortCalls(calls []LiveCall) []LiveCall {
	slices.SortFunc(calls, func(a, b LiveCall) int {
		switch {
		case later(a, b):
			return -1
		case later(b, a):
			return 1
		}
		return 0
	})
	return calls
}

// Calls returns the latest started live calls (at most listMax), the
// latest first, and how many calls are live.
func (h *callHub) Calls() ([]LiveCall, int) {
	h.mu.Lock()
	calls, total := h.list()
	h.mu.Unlock()
	return sortCalls(calls), total
}

// subscribe opens a stream: its changes, and the calls as they stand
// when they start. ok is false when the hub is closed or too many streams
// are open.
func (h *callHub) subscribe() (s *callStream, calls []LiveCall, total int, ok bool) {
	h.mu.Lock()
	if h.closed || len(h.subs) >= maxCallStreams {
		h.mu.Unlock()
		return nil, nil, 0, false
	}
	s = &callStream{ch: make(chan callChange, streamBuffer)}
	h.subs[s] = struct{}{}
	h.nsubs.Add(1)
	calls, total = h.list()
	h.mu.Unlock()
	return s, sortCalls(calls), total, true
}

// resync empties a lagged stream's buffer and returns the calls as they
// stand: the stream goes on from there.
func (h *callHub) resync(s *callStream) ([]LiveCall, int) {
	h.mu.Lock()
	for len(s.ch) > 0 {
		<-s.ch
	}
	s.lagged.Store(false)
	calls, total := h.list()
	h.mu.Unlock()
	return sortCalls(calls), total
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
