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
//
// The hub holds nothing the garbage collector must scan: a call's id is
// kept as bytes in its map key, and the names of flows, versions and nodes
// as indexes into a table of them. Every webhook's garbage collection
// would otherwise trace each live call the hub keeps — the memory store
// keeps its sessions as bytes for the same reason.
type callHub struct {
	now func() time.Time
	ttl time.Duration

	mu     sync.Mutex
	calls  map[callKey]liveEntry
	names  []string // flow, version and node names, by index; only appended to
	index  map[string]uint32
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
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"` // the call's latest state write
}

// maxKeyLen is the longest CallUUID the hub lists: Plivo's have 36
// bytes; a longer one (no call of Plivo's) is not listed.
const maxKeyLen = 63

// callKey is a CallUUID as a map key without pointers.
type callKey struct {
	n  uint8
	id [maxKeyLen]byte
}

func keyOf(id string) (k callKey, ok bool) {
	if len(id) > maxKeyLen {
		return k, false
	}
	k.n = uint8(len(id))
	copy(k.id[:], id)
	return k, true
}

func (k *callKey) String() string { return string(k.id[:k.n]) }

// liveEntry is a listed call: names as indexes into callHub.names, times
// as Unix nanoseconds.
type liveEntry struct {
	flow, version, wait uint32
	step                int64
	started, updated    int64
}

// callChange is what a stream is told: a call's new state, or that it
// left the list. It holds no pointers either: streams' buffers are not
// scanned.
type callChange struct {
	key   callKey
	entry liveEntry
	gone  bool
	added bool // the call was not listed before
}

// call turns a listed call into its LiveCall, with names from a snapshot
// of the hub's table (callHub.nameTable).
func (e *liveEntry) call(k *callKey, names []string) LiveCall {
	name := func(i uint32) string {
		if int(i) < len(names) {
			return names[i]
		}
		return ""
	}
	return LiveCall{CallUUID: k.String(), Flow: name(e.flow), Version: name(e.version), Wait: name(e.wait),
		Step: int(e.step), Started: time.Unix(0, e.started).UTC(), Updated: time.Unix(0, e.updated).UTC()}
}

// callStream is one open stream's subscription.
type callStream struct {
	ch     chan callChange
	lagged atomic.Bool
}

const (
	// maxLiveCalls bounds the calls the hub keeps: more than one process
	// serves at once. It is kept small on purpose: each webhook looks its
	// call up in the hub, and a table of 100000 calls, out of the
	// processor's caches, made the answer webhook a few percent slower
	// under load (scripts/load-answer.sh with BASELINE); one of 10000 costs
	// about a third of that.
	maxLiveCalls = 10000
	// maxNames bounds the table of names: far more than the flows,
	// versions and nodes a process serves.
	maxNames = 1 << 16
	// maxCallStreams bounds the streams open at once.
	maxCallStreams = 64
	// streamBuffer is the changes a stream may fall behind by before it
	// misses some and catches up from the list.
	streamBuffer = 2048
)

func newCallHub(now func() time.Time, ttl time.Duration) *callHub {
	return &callHub{now: now, ttl: ttl, calls: map[callKey]liveEntry{}, index: map[string]uint32{},
		subs: map[*callStream]struct{}{}, done: make(chan struct{})}
}

// name returns a name's index, adding it to the table. Called with h.mu
// held.
func (h *callHub) name(s string) (uint32, bool) {
	if i, ok := h.index[s]; ok {
		return i, true
	}
	if len(h.names) >= maxNames {
		return 0, false
	}
	i := uint32(len(h.names))
	h.names = append(h.names, s)
	h.index[s] = i
	return i, true
}

// nameTable returns the table of names as it stands: entries made since
// index only into it, or past its end (read it again).
func (h *callHub) nameTable() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.names
}

// publish records a call's stored state. A state written with a claim is
// a step whose side effects are under way: the call has not moved yet.
func (h *callHub) publish(st *CallState) {
	if st.Claim != nil {
		return
	}
	key, ok := keyOf(st.CallUUID)
	if !ok {
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
	old, had := h.calls[key]
	switch {
	case !live && !had:
		return
	case !live:
		delete(h.calls, key)
		h.tell(callChange{key: key, entry: old, gone: true})
		return
	case had && old.step == int64(st.Step) && h.names[old.wait] == st.Wait:
		// An event recorded in the trace: the call did not move.
		old.updated = now.UnixNano()
		h.calls[key] = old
		return
	case !had && len(h.calls) >= maxLiveCalls:
		h.missed++
		return
	}
	flowName, ok1 := h.name(st.Flow)
	version, ok2 := h.name(st.Version)
	wait, ok3 := h.name(st.Wait)
	if !ok1 || !ok2 || !ok3 {
		h.missed++
		return
	}
	e := liveEntry{flow: flowName, version: version, wait: wait, step: int64(st.Step),
		started: st.Started.UnixNano(), updated: now.UnixNano()}
	h.calls[key] = e
	h.tell(callChange{key: key, entry: e, added: !had})
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
	cutoff := now.Add(-h.ttl).UnixNano()
	for k, e := range h.calls {
		if e.updated < cutoff {
			delete(h.calls, k)
			h.tell(callChange{key: k, entry: e, gone: true})
		}
	}
}

// listMax is how many calls a list gives: the latest started. A console
// shows that many; the stream's events, which say which calls are new,
// keep its count of all of them right.
const listMax = 500

// pick returns the listMax latest started live calls, unsorted, the
// table of names they index, and how many calls are live. Called with
// h.mu held; make turns its answer into LiveCalls after.
func (h *callHub) pick() (callHeap, []string, int) {
	cutoff := h.now().Add(-h.ttl).UnixNano()
	latest := make(callHeap, 0, min(len(h.calls), listMax))
	total := 0
	for k, e := range h.calls {
		if e.updated < cutoff {
			continue // expired: the next sweep drops it
		}
		total++
		c := callChange{key: k, entry: e}
		switch {
		case len(latest) < listMax:
			heap.Push(&latest, c)
		case later(&c, &latest[0]):
			latest[0] = c
			heap.Fix(&latest, 0)
		}
	}
	return latest, h.names, total
}

// make returns picked calls as LiveCalls, the latest started first.
func (latest callHeap) make(names []string) []LiveCall {
	slices.SortFunc(latest, func(a, b callChange) int {
		switch {
		case later(&a, &b):
			return -1
		case later(&b, &a):
			return 1
		}
		return 0
	})
	out := make([]LiveCall, len(latest))
	for i := range latest {
		out[i] = latest[i].entry.call(&latest[i].key, names)
	}
	return out
}

// later reports whether a started after b (by call id when together).
func later(a, b *callChange) bool {
	if a.entry.started != b.entry.started {
		return a.entry.started > b.entry.started
	}
	return string(a.key.id[:a.key.n]) < string(b.key.id[:b.key.n])
}

// callHeap keeps the latest started calls, the earliest of them on top.
type callHeap []callChange

func (q callHeap) Len() int           { return len(q) }
func (q callHeap) Less(i, j int) bool { return later(&q[j], &q[i]) }
func (q callHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *callHeap) Push(x any)        { *q = append(*q, x.(callChange)) }
func (q *callHeap) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// Calls returns the latest started live calls (at most listMax), the
// latest first, and how many calls are live.
func (h *callHub) Calls() ([]LiveCall, int) {
	h.mu.Lock()
	latest, names, total := h.pick()
	h.mu.Unlock()
	return latest.make(names), total
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
	// The list and the first change told are one after the other: no
	// change is in both (the count would be off) or in neither.
	latest, names, total := h.pick()
	h.mu.Unlock()
	return s, latest.make(names), total, true
}

// resync empties a lagged stream's buffer and returns the calls as they
// stand: the stream goes on from there.
func (h *callHub) resync(s *callStream) ([]LiveCall, int) {
	h.mu.Lock()
	for len(s.ch) > 0 {
		<-s.ch
	}
	s.lagged.Store(false)
	latest, names, total := h.pick()
	h.mu.Unlock()
	return latest.make(names), total
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
