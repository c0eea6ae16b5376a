package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Idempotency. A client that gets no answer (a timeout, a dropped
// connection) sends its request again; the first one may have dialled
// someone already. flowd keeps the answer of a request that sent Add
// Participant and answers an identical request with it, without acting:
//
//   - with an Idempotency-Key header, the requests with the same key (for
//     the flow and node) for 24 hours; the same key on a different body
//     is refused (422);
//   - without one, the requests with the same action, to, role and
//     trigger_source for 30 seconds — shorter than Add Participant's
//     default ring_timeout (45 s), so dialling someone again after they
//     did not answer is never taken for a retry.
//
// A request refused before dialling (a check, Plivo's 4xx) is not kept:
// sent again, it runs again.
//
// A copy sent while the first is being handled waits for its answer, as
// a copy of a webhook waits for the step another copy claimed (change):
// it reads the store again after a pause that doubles up to 50 ms, for
// Config.ClaimWait at most, and then answers with the first one's
// answer — a refusal too: the copies of one request share its fate. When
// the first has not answered by then (it is slow, or its process died
// and its pending claim lasts a minute), the copy answers 503 with
// Retry-After and acts on nothing.
//
// Choice: the store has no atomic put-if-absent for references, so the
// claim is two steps: an in-process claim, then GetRef and a "pending"
// PutRef in the store. Two flowd processes sharing a store can both pass
// GetRef within the same few milliseconds and both dial.
const (
	phloOnceWindow = 30 * time.Second
	phloKeyWindow  = 24 * time.Hour
	phloPending    = time.Minute
	oncePending    = "pending"
)

type phloOnceClaim struct {
	s              *Server
	key, claim, fp string
	ttl            time.Duration
}

type onceRecord struct {
	FP   string    `json:"fp"`
	Code int       `json:"code"`
	Body phloReply `json:"body"`
	// Again: the request dialled nobody, so one sent after it runs again;
	// only the copies that waited for it take its answer.
	Again bool `json:"again,omitempty"`
}

// phloOnce claims a request, or returns the answer to give instead: the
// kept answer of an identical request, the answer of one being handled
// once it has one, or a 503 when it has none within Config.ClaimWait.
func (s *Server) phloOnce(ctx context.Context, r *http.Request, flowName, node string, req phloRequest) (*phloOnceClaim, *answer) {
	sum := sha256.Sum256([]byte(strings.Join([]string{req.Action, req.To, req.Role, req.TriggerSource}, "\x00")))
	c := &phloOnceClaim{s: s, fp: hex.EncodeToString(sum[:16]), ttl: phloOnceWindow}
	c.key = "phlo-once:" + flowName + ":" + node + ":" + c.fp
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(k) > 255 {
			a := failure(http.StatusBadRequest, "Idempotency-Key is longer than 255 characters")
			return nil, &a
		}
		c.key, c.ttl = "phlo-once:"+flowName+":"+node+":key:"+k, phloKeyWindow
	}
	c.claim = c.key
	pause := time.Millisecond
	var waited time.Duration
	for {
		a, busy := c.take(ctx, r, waited > 0)
		switch {
		case !busy && a != nil:
			return nil, a
		case !busy:
			return c, nil
		case waited >= s.cfg.ClaimWait:
			s.log.Warn("trigger API: an identical request has not answered; its copy is refused", "key", c.key, "waited", waited)
			a := failure(http.StatusServiceUnavailable, "an identical request is being handled and has not answered in %v; send it again for its answer", s.cfg.ClaimWait)
			a.retryAfter = true
			return nil, &a
		}
		if err := sleep(ctx, pause); err != nil {
			a := failure(http.StatusServiceUnavailable, "%v", err) // the client is gone
			return nil, &a
		}
		waited += pause
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// take tries to claim the request once: it returns the answer to give
// instead, or busy while an identical request is being handled. waited
// says this copy waited for one, whose answer it then takes even when
// it was not kept.
func (c *phloOnceClaim) take(ctx context.Context, r *http.Request, waited bool) (a *answer, busy bool) {
	s := c.s
	if _, running := s.phloInflight.LoadOrStore(c.claim, c); running {
		return nil, true
	}
	v, err := s.store.GetRef(ctx, c.key)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		c.release()
		a := failure(http.StatusServiceUnavailable, "store unavailable: %v", err)
		return &a, false
	case v == oncePending:
		c.release()
		return nil, true
	case v != "":
		var rec onceRecord
		if json.Unmarshal([]byte(v), &rec) != nil || rec.Again && (!waited || rec.FP != c.fp) {
			break // no answer to give: claim the request
		}
		c.release()
		if rec.FP != c.fp {
			a := failure(http.StatusUnprocessableEntity, "Idempotency-Key %q was used for a different request", r.Header.Get("Idempotency-Key"))
			return &a, false
		}
		return &answer{code: rec.Code, body: rec.Body, replayed: true}, false
	}
	if err := s.store.PutRef(ctx, c.key, oncePending, phloPending); err != nil {
		c.release()
		a := failure(http.StatusServiceUnavailable, "store unavailable: %v", err)
		return &a, false
	}
	return nil, false
}

// done keeps a's answer: for identical requests when it dialled, else
// for the copies waiting for it only; and releases the claim.
func (c *phloOnceClaim) done(ctx context.Context, a answer) {
	defer c.release()
	rec := onceRecord{FP: c.fp, Code: a.code, Body: a.body, Again: !a.dialled}
	ttl := c.ttl
	if rec.Again {
		ttl = phloOnceWindow
	}
	b, _ := json.Marshal(rec)
	if err := c.s.store.PutRef(context.WithoutCancel(ctx), c.key, string(b), ttl); err != nil {
		c.s.log.Warn("trigger API: cannot keep the answer for a retried request", "key", c.key, "err", err)
	}
}

// release gives up the in-process claim, if this request still holds
// it: phloCall defers it, so a panic does not leave it held.
func (c *phloOnceClaim) release() { c.s.phloInflight.CompareAndDelete(c.claim, c) }
