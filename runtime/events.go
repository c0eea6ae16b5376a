package runtime

import (
	"errors"
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/flowd-dev/flowd/flow"
)

// Limits of one event in the trace: a MultiPartyCall's status callback
// carries a few dozen short parameters; more, or longer, is cut.
const (
	maxEventParams = 64
	maxEventValue  = 1024
	maxEventName   = 128 // Plivo's parameter names are under 40 bytes
)

// event records a MultiPartyCall status or recording callback in the
// call's trace. It never changes where the call stands. Only a node that
// asked for the kind (events: [...]) receives it.
func (s *Server) event(w http.ResponseWriter, r *http.Request) {
	fr := routeFlow(r)
	name, id := fr.Name, pathParam(r, "callUUID")
	node, kind := nodeParam(r), pathParam(r, "kind")
	if !flow.IsReport(kind) {
		s.reject(w, r, http.StatusNotFound, "no such event kind "+strconv.Quote(kind))
		return
	}
	ev := Event{At: s.cfg.Now(), Kind: node + "/" + kind, Params: capParams(params(r))}
	entry, err := encodeEvent(&ev)
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, "the event cannot be kept: "+err.Error())
		return
	}
	ctx := r.Context()
	key := eventKey(ev.Kind, ev.Params)
	var reply func()
	err = s.change(ctx, id, func(t *txn, st *CallState) (verdict, error) {
		if st.Flow != name {
			reply = func() {
				s.reject(w, r, http.StatusConflict, "call "+strconv.Quote(id)+" does not run flow "+name)
			}
			return done, nil
		}
		g, err := s.reg.Version(ctx, s.store, st.Flow, st.Version)
		if err != nil {
			return done, err
		}
		if n := g.Lookup(node); n == nil || !slices.Contains(n.Events, kind) {
			reply = func() {
				s.reject(w, r, http.StatusNotFound, "node "+strconv.Quote(node)+" of flow "+name+" does not receive "+kind+" events")
			}
			return done, nil
		}
		if slices.Contains(st.EventKeys, key) {
			// A copy of an event kept already (Plivo sends a callback
			// again when it got no answer in time).
			reply = func() { w.WriteHeader(http.StatusNoContent) }
			return done, nil
		}
		st.EventKeys = append(st.EventKeys, key)
		if n := len(st.EventKeys) - keptEventKeys; n > 0 {
			st.EventKeys = slices.Delete(st.EventKeys, 0, n)
		}
		t.entry, t.event = entry, true
		reply = func() {
			s.traceOther(ctx, st, node, kind, "", "")
			s.metrics.events.WithLabelValues(name, kind).Inc()
			s.log.Info("event", "call", id, "flow", name, "node", node, "kind", kind, "event", ev.Params["EventName"])
			w.WriteHeader(http.StatusNoContent)
		}
		return write, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		s.reject(w, r, http.StatusNotFound, "unknown call "+strconv.Quote(id))
	case err != nil:
		s.metrics.errors.WithLabelValues(fr.Label, "store").Inc()
		http.Error(w, "session store failed", http.StatusServiceUnavailable)
	default:
		reply()
	}
}

// keptEventKeys is how many of a call's latest events a copy is
// recognised among: Plivo sends a callback again within seconds, while a
// room's other events may come in between.
const keptEventKeys = 8

// eventKey identifies an event by its kind and parameters (FNV-1a of
// them in name order): a copy Plivo sends again has the same.
func eventKey(kind string, p map[string]string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(kind))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(p[k]))
	}
	return h.Sum32()
}

// capParams bounds an event's parameters for the trace.
func capParams(p map[string]string) map[string]string {
	if len(p) <= maxEventParams {
		long := false
		for k, v := range p {
			long = long || len(v) > maxEventValue || len(k) > maxEventName
		}
		if !long {
			return p
		}
	}
	out := make(map[string]string, min(len(p), maxEventParams))
	for _, k := range sortedKeys(p) {
		if len(out) == maxEventParams {
			out["flowd_truncated"] = strconv.Itoa(len(p) - maxEventParams)
			break
		}
		v := p[k]
		if len(v) > maxEventValue {
			v = v[:maxEventValue]
		}
		if len(k) > maxEventName {
			k = k[:maxEventName]
		}
		out[k] = v
	}
	return out
}
