package runtime

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
)

// maxEvents bounds the events kept per call: a long MultiPartyCall with
// speak events must not grow a session without limit.
const maxEvents = 500

// event records a MultiPartyCall status or recording callback in the
// call's trace. It never changes where the call stands.
func (s *Server) event(w http.ResponseWriter, r *http.Request) {
	name, id := chi.URLParam(r, "flow"), chi.URLParam(r, "callUUID")
	node, kind := chi.URLParam(r, "node"), chi.URLParam(r, "kind")
	if !flow.IsReport(kind) {
		s.reject(w, r, name, http.StatusNotFound, "no such event kind "+strconv.Quote(kind))
		return
	}
	p := params(r)
	ctx := r.Context()
	for attempt := 0; attempt < 20; attempt++ {
		rec, err := s.store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.reject(w, r, name, http.StatusNotFound, "unknown call "+strconv.Quote(id))
			return
		}
		if err != nil {
			s.metrics.errors.WithLabelValues(name, "store").Inc()
			http.Error(w, "session store failed", http.StatusServiceUnavailable)
			return
		}
		sess, err := decodeSession(rec.Data)
		if err != nil || sess.Flow != name {
			s.reject(w, r, name, http.StatusConflict, "call "+strconv.Quote(id)+" does not run flow "+name)
			return
		}
		ev := Event{At: s.cfg.Now(), Kind: node + "/" + kind, Params: p}
		sess.Events = append(sess.Events, ev)
		if len(sess.Events) > maxEvents {
			sess.Events = sess.Events[len(sess.Events)-maxEvents:]
		}
		data, err := encodeSession(sess)
		if err == nil {
			ttl := s.cfg.SessionTTL
			if !rec.Live {
				ttl = s.cfg.TraceTTL
			}
			err = s.store.Update(ctx, id, rec.Rev, Record{Rev: rec.Rev + 1, Live: rec.Live, Data: data}, ttl)
		}
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			s.metrics.errors.WithLabelValues(name, "store").Inc()
			http.Error(w, "session store failed", http.StatusServiceUnavailable)
			return
		}
		s.metrics.events.WithLabelValues(name, kind).Inc()
		s.log.Info("event", "call", id, "flow", name, "node", node, "kind", kind, "event", p["EventName"])
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Error(w, "event raced with other updates; retry", http.StatusConflict)
}
