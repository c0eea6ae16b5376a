package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
)

// Every change to a call's state — an answer, a callback, an event, a
// hangup — is one read-modify-write through change: read the state,
// decide, write it back with a compare-and-set on the record's revision,
// and start again from a fresh read when another write came first (a
// retried webhook on another replica, a hangup racing a callback).

// changeAttempts bounds how often a change starts again because another
// write came first. Waiting for a claimed step does not count.
const changeAttempts = 20

// claimLease is how long a claimed step stays claimed: the longest a
// step's side effects may take. Copies of its webhook wait that long at
// most before they run the step themselves.
const claimLease = 20 * time.Second

// errBusy is returned when a call's state kept changing under a change.
var errBusy = errors.New("the call's state kept changing; retry")

// errClaimWait is returned when a copy of a webhook waited Config.ClaimWait
// for the step another copy claimed, which has not answered: its claimer
// is slow or dead. The copy is answered 503, so that Plivo may send it
// again, rather than kept until the server's write timeout closes it.
var errClaimWait = errors.New("another copy of this webhook is running its step")

// verdict is what a change function decides about the state it read.
type verdict int

const (
	write   verdict = iota // store the changed state
	done                   // store nothing: the request is answered
	waitFor                // another copy claimed the step: read again after a pause
)

// txn is one attempt of a change: what was read, and what the write adds.
type txn struct {
	s        *Server
	ctx      context.Context // detached: the request's values, not its end
	detached detachedCtx
	id       string
	rev      int    // the revision read; 0 when the call is not stored yet
	raw      []byte // the state as read, before any change, or as last written
	// rawBuf, when not nil, is the pooled buffer raw is in (the state
	// this txn last wrote), given back by release.
	rawBuf *[]byte
	// pre encodes the state before any change when raw is nil (a new
	// call's: a claim stores it).
	pre func() ([]byte, error)
	// live and ttl are those of the write: a hung-up call's record
	// stays for TraceTTL.
	live bool
	ttl  time.Duration
	// entry is the trace entry the write appends, if any; entryBuf, when
	// not nil, is the pooled buffer it is in, given back once a write has
	// stored it (stores copy what they keep).
	entry    []byte
	entryBuf *[]byte
	// event is set when entry is an event's, kept in the events' ring.
	event bool
	// entryXML is the walk's XML the entry holds, and entryXMLAt where
	// the entry holds it, escaped: the state's copy is cut from that
	// (appendStateEscaped).
	entryXML   []byte
	entryXMLAt int
}

// change runs fn on the call's stored state and writes what it decides.
// fn may be run several times, each time on a fresh read: it must not
// answer the request before it returns done, or after it returns write
// (the caller answers once change returns nil).
func (s *Server) change(ctx context.Context, id string, fn func(t *txn, st *CallState) (verdict, error)) error {
	pause := time.Millisecond
	var waited time.Duration
	for attempt := 0; attempt < changeAttempts; {
		rec, err := s.store.Get(ctx, id)
		if err != nil {
			return err
		}
		st, err := decodeState(rec.Data)
		if err != nil {
			return err
		}
		t := s.newTxn(ctx, id, rec.Rev, rec.Data, rec.Live)
		v, err := fn(t, st)
		if err != nil {
			t.release()
			return err
		}
		switch v {
		case done:
			t.release()
			return nil
		case waitFor:
			t.release()
			if waited >= s.cfg.ClaimWait {
				return errClaimWait
			}
			if err := sleep(ctx, pause); err != nil {
				return err
			}
			waited += pause
			pause = min(2*pause, 50*time.Millisecond)
			continue
		}
		err = t.write(st)
		t.release()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		attempt++
		if err := sleep(ctx, time.Duration(attempt)*100*time.Microsecond); err != nil {
			return err
		}
	}
	return errBusy
}

func (s *Server) newTxn(ctx context.Context, id string, rev int, raw []byte, live bool) *txn {
	t := new(txn)
	s.initTxn(t, ctx, id, rev, raw, live)
	return t
}

// initTxn makes *t a new txn, as newTxn returns: for a txn that is a
// field of a value allocated or pooled already (an answer's walker's).
func (s *Server) initTxn(t *txn, ctx context.Context, id string, rev int, raw []byte, live bool) {
	ttl := s.cfg.SessionTTL
	if !live {
		ttl = s.cfg.TraceTTL
	}
	// A write goes through when the request that made it is gone (Plivo
	// gave up waiting): the step's side effects are made, and its write is
	// what Plivo's retry is answered from.
	*t = txn{s: s, id: id, rev: rev, raw: raw, live: live, ttl: ttl}
	t.detached.parent = ctx
	t.ctx = &t.detached
}

// detachedCtx is context.WithoutCancel(parent) where it costs no
// allocation of its own: a field of a value that is allocated or pooled
// already (a txn, a walker), on every webhook's path.
type detachedCtx struct{ parent context.Context }

func (*detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detachedCtx) Done() <-chan struct{}       { return nil }
func (*detachedCtx) Err() error                  { return nil }
func (c *detachedCtx) Value(key any) any         { return c.parent.Value(key) }

// eventSeq numbers a call's event entries, apart from its steps' (from
// 0): a store keeps a call's entries by number and returns them in the
// order written or by number, and drops the one a write names.
const eventSeq = 1 << 30

// sleep pauses a change, or ends it with the request.
func sleep(ctx context.Context, d time.Duration) error { return plivo.SystemClock.Sleep(ctx, d) }

// end makes the write end the call's record's life as a live call.
func (t *txn) end() { t.live, t.ttl = false, t.s.cfg.TraceTTL }

// write stores st with a compare-and-set on the revision read (a Create
// when nothing was stored yet), with the trace entry if there is one.
// On success the txn holds the new revision, so a claimed step can be
// written again.
func (t *txn) write(st *CallState) error {
	rec := Record{Rev: t.rev + 1, Live: t.live}
	entries, events := st.Entries, st.EventEntries
	switch {
	case t.entry != nil && t.event:
		// The latest TraceEvents events, numbered from eventSeq.
		rec.Entry, rec.Seq = t.entry, eventSeq+st.EventEntries
		if drop := st.EventEntries - t.s.cfg.TraceEvents; drop >= 0 {
			rec.Drop = eventSeq + drop
		}
		st.EventEntries++
	case t.entry != nil:
		rec.Entry, rec.Seq = t.entry, st.Entries
		if drop := st.Entries - t.s.cfg.TraceLast; drop >= t.s.cfg.TraceFirst && drop > 0 {
			rec.Drop = drop
		}
		st.Entries++
	}
	// The state is encoded in a pooled buffer, not copied out of it:
	// stores copy what they keep. It stays the txn's raw, for a claim,
	// until release gives it back.
	bp := sessionBufs.Get().(*[]byte)
	data, err := appendStateEscaped((*bp)[:0], st, t.escapedXML(st))
	*bp = data
	if err == nil {
		rec.Data = data
		if t.rev == 0 {
			err = t.s.store.Create(t.ctx, t.id, rec, t.ttl)
		} else {
			err = t.s.store.Update(t.ctx, t.id, t.rev, rec, t.ttl)
		}
	}
	if err != nil {
		putSessionBuf(bp)
		st.Entries, st.EventEntries = entries, events
		return err
	}
	t.release()
	t.rev, t.raw, t.rawBuf, t.entry, t.entryXML, t.event = rec.Rev, data, bp, nil, nil, false
	if t.entryBuf != nil {
		putSessionBuf(t.entryBuf)
		t.entryBuf = nil
	}
	t.s.calls.publish(st)
	return nil
}

// release gives back the pooled buffer of the state the txn last wrote,
// once nothing reads it: when the txn is done with. raw is nil after.
func (t *txn) release() {
	if t.rawBuf != nil {
		putSessionBuf(t.rawBuf)
		t.raw, t.rawBuf = nil, nil
	}
}

// step appends a webhook's step to the trace with the write.
func (t *txn) step(ts *TraceStep) error { return t.stepXML(ts, nil) }

// stepXML appends a walked step, whose XML is the walk's xml. The entry
// is encoded in a pooled buffer, not copied out of it: the write gives
// it back.
func (t *txn) stepXML(ts *TraceStep, xml []byte) error {
	bp := sessionBufs.Get().(*[]byte)
	b, at, err := appendTraceStepAt((*bp)[:0], ts, xml)
	*bp = b
	if err != nil {
		putSessionBuf(bp)
		return err
	}
	if t.entryBuf != nil {
		putSessionBuf(t.entryBuf)
	}
	t.entry, t.entryBuf = b, bp
	t.entryXML, t.entryXMLAt = nil, 0
	if at > 0 {
		t.entryXML, t.entryXMLAt = xml, at
	}
	return nil
}

// escapedXML returns the XML of the state a walk changed as the entry
// the write appends holds it, escaped: when that is the walk's XML the
// state keeps (st.xmlFrom, the same bytes); else nil.
func (t *txn) escapedXML(st *CallState) []byte {
	x := t.entryXML
	if t.entry == nil || len(x) == 0 || len(x) != len(st.xmlFrom) || &x[0] != &st.xmlFrom[0] {
		return nil
	}
	return t.entry[t.entryXMLAt : len(t.entry)-2] // before the entry's `"}`
}

// claimed reports whether a claim on the state holds: another copy of
// a webhook is making the step's side effects.
func (s *Server) claimed(st *CallState) bool {
	return st.Claim != nil && s.cfg.Now().Before(st.Claim.Until)
}

// stepClaim claims a step for this copy of its webhook before the walk's
// first side effect (Walker.Effect): the state as it was read, plus the
// claim, written with a compare-and-set. A claim that cannot be written
// voids the walk; the change then starts again, and finds the claimer's
// answer or its claim.
type stepClaim struct {
	t    *txn
	key  string
	held bool
	made *Claim // the claim written, once held
}

func (c *stepClaim) claim() error {
	if c.held {
		return nil
	}
	raw := c.t.raw
	if raw == nil && c.t.pre != nil {
		var err error
		if raw, err = c.t.pre(); err != nil {
			return err
		}
	}
	pre, err := decodeState(raw)
	if err != nil {
		return err
	}
	pre.Claim = &Claim{Key: c.key, Owner: c.t.s.instance, Until: c.t.s.cfg.Now().Add(claimLease)}
	if err := c.t.write(pre); err != nil {
		return err
	}
	c.held, c.made = true, pre.Claim
	return nil
}

// walkStep walks one step of a call with the step claim in place. A
// void walk (its claim could not be written) has Aborted set. The claim
// the walk made, if it made side effects, is left in wk.claimed.
func (s *Server) walkStep(wk *webhookWalker, t *txn, key string, walk func() flow.Result) flow.Result {
	wk.claim = stepClaim{t: t, key: key}
	wk.Effect = wk.effect
	defer func() { wk.claimed, wk.Effect, wk.claim = wk.claim.made, nil, stepClaim{} }()
	return walk()
}

// ownWalk keeps a walk that made side effects under its claim, so that
// when the step's write loses its compare-and-set to a write that left
// the claim in place (an event, the hangup), the change, run again on
// the state read afresh, takes the same walk rather than walking — and
// making the side effects — a second time.
type ownWalk struct {
	wk    *webhookWalker
	res   flow.Result
	g     *flow.Graph
	vars  map[string]any // the call's vars and nodes as the walk left them
	nodes map[string]map[string]string
}

// keep remembers wk's walk of g when it holds a claim.
func (o *ownWalk) keep(wk *webhookWalker, res flow.Result, g *flow.Graph, vars map[string]any, nodes map[string]map[string]string) {
	if wk.claimed != nil {
		o.wk, o.res, o.g, o.vars, o.nodes = wk, res, g, vars, nodes
	}
}

// of reports whether st is still under the claim of the walk kept.
func (o *ownWalk) of(st *CallState) bool {
	if o.wk == nil || st.Claim == nil {
		return false
	}
	c, mine := st.Claim, o.wk.claimed
	return c.Key == mine.Key && c.Owner == mine.Owner && c.Until.Equal(mine.Until)
}
