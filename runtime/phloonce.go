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
// Choice: the store has no atomic put-if-absent for references, so the
// claim is two steps: an in-process claim (concurrent copies reaching the
// same flowd wait for nothing: the second gets 409), then GetRef and a
// "pending" PutRef in the store. Two flowd processes sharing a store can
// both pass GetRef within the same few milliseconds and both dial; a
// pending claim left by a process that died expires after a minute.
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
}

// phloOnce claims a request, or returns the answer to give instead: the
// kept answer of an identical request, or a refusal while one runs.
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
	busy := failure(http.StatusConflict, "an identical request is being handled; send it again in a moment for its answer")
	if _, running := s.phloInflight.LoadOrStore(c.claim, struct{}{}); running {
		return nil, &busy
	}
	v, err := s.store.GetRef(ctx, c.key)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		s.phloInflight.Delete(c.claim)
		a := failure(http.StatusServiceUnavailable, "store unavailable: %v", err)
		return nil, &a
	case v == oncePending:
		s.phloInflight.Delete(c.claim)
		return nil, &busy
	case v != "":
		var rec onceRecord
		if json.Unmarshal([]byte(v), &rec) == nil {
			s.phloInflight.Delete(c.claim)
			if rec.FP != c.fp {
				a := failure(http.StatusUnprocessableEntity, "Idempotency-Key %q was used for a different request", r.Header.Get("Idempotency-Key"))
				return nil, &a
			}
			return nil, &answer{code: rec.Code, body: rec.Body, replayed: true}
		}
	}
	if err := s.store.PutRef(ctx, c.key, oncePending, phloPending); err != nil {
		s.phloInflight.Delete(c.claim)
		a := failure(http.StatusServiceUnavailable, "store unavailable: %v", err)
		return nil, &a
	}
	return c, nil
}

// done keeps a's answer for identical requests when it dialled, else
// lets them run again; and releases the claim.
func (c *phloOnceClaim) done(ctx context.Context, a answer) {
	defer c.s.phloInflight.Delete(c.claim)
	v := "" // no answer kept: GetRef's "" is no claim
	if a.dialled {
		b, _ := json.Marshal(onceRecord{FP: c.fp, Code: a.code, Body: a.body})
		v = string(b)
	}
	ttl := c.ttl
	if v == "" {
		ttl = phloOnceWindow
	}
	if err := c.s.store.PutRef(context.WithoutCancel(ctx), c.key, v, ttl); err != nil {
		c.s.log.Warn("trigger API: cannot keep the answer for a retried request", "key", c.key, "err", err)
	}
}
