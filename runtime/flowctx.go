package runtime

import (
	"context"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
)

// flowRoute is the flow a request's URL names, resolved once per request
// by flowCtx for the middlewares and the handler after it.
type flowRoute struct {
	// Name is the flow as the URL names it. It need not be served now: a
	// call on a flow removed from the folder goes on from the version it
	// is pinned to, so each handler decides what an unknown flow means
	// (an answer or the trigger API refuses it; a callback does not).
	Name string
	// Label is the flow's metrics label: Name when flowd serves the flow,
	// else "unknown", so requests for made-up flows cannot create series
	// without end.
	Label string
	// Current is the version new calls start on; nil when flowd does not
	// serve the flow.
	Current *flow.Graph
}

// flowRouteKey is the context key of a request's *flowRoute.
type flowRouteKey struct{}

// requestCtx is the context ServeHTTP gives each request: its parent's,
// with chi's routing context and, once flowCtx has resolved it, the
// request's flowRoute. One value for both saves a copy of the request
// per webhook: chi, finding its routing context there, does not add its
// own (with a copy of the request), and flowCtx fills in the route
// rather than adding a context of its own (and another copy).
type requestCtx struct {
	context.Context
	rctx  *chi.Context
	route flowRoute
	// routed says route is set.
	routed bool
	// form is the webhook's parameters, one value per name, when
	// parseWebhookForm parsed them here rather than into r.PostForm;
	// formTaken says params has returned it.
	form      map[string]string
	formTaken bool
	// server is the Server whose RequestContext made this context, to
	// serve one request after another in (serving says it serves one);
	// nil for the context ServeHTTP makes for each request.
	server  *Server
	serving bool
	// limit caps the body of the request served in this context, when
	// it is one of RequestContext's (limitBody).
	limit bodyLimit
}

// served marks c free for the next request.
func (c *requestCtx) served() { c.serving = false }

// reset makes c the context of a request not yet routed, with chi's
// routing context reset for the router.
func (c *requestCtx) reset(router chi.Router) {
	c.rctx.Reset()
	c.rctx.Routes = router
	c.route, c.routed = flowRoute{}, false
	c.form, c.formTaken = nil, false
	c.limit = bodyLimit{}
}

// formMaps are the maps parseWebhookForm parses webhooks' parameters
// into: a map of a dozen names is five allocations and 600 bytes of
// garbage on every webhook, a fifth of an answer's. ServeHTTP gives a
// request's map back when the request is done (releaseForm): nothing
// keeps a webhook's parameters past it (a call's state and trace hold
// them encoded), and the strings in it are the request's body's, not
// reused.
var formMaps sync.Pool

// releaseForm gives the request's parameters back to formMaps, cleared.
// The request is done: its handlers have returned.
func (c *requestCtx) releaseForm() {
	if c.form == nil {
		return
	}
	clear(c.form)
	formMaps.Put(c.form)
	c.form, c.formTaken = nil, false
}

// Value returns chi's routing context, the flowRoute once set, else the
// parent's value.
func (c *requestCtx) Value(key any) any {
	switch key {
	case chi.RouteCtxKey:
		return c.rctx
	case flowRouteKey{}:
		if c.routed {
			return &c.route
		}
		return nil // not a route of a request this context served before
	case requestCtxKey{}:
		return c
	}
	return c.Context.Value(key)
}

// requestCtxKey is the context key of a request's *requestCtx.
type requestCtxKey struct{}

// flowCtx resolves the flow named by the {flow} URL parameter and puts it
// on the request's context, where routeFlow reads it. It refuses nothing.
func (s *Server) flowCtx(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := pathParam(r, "flow")
		fr := flowRoute{Name: name, Label: "unknown", Current: s.reg.Current(name)}
		if fr.Current != nil {
			fr.Label = name
		}
		if c, ok := r.Context().Value(requestCtxKey{}).(*requestCtx); ok && !c.routed {
			c.route, c.routed = fr, true
			next.ServeHTTP(w, r)
			return
		}
		// A copy for the context of its own: taking fr's address would
		// put it on the heap on the path above too.
		route := fr
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), flowRouteKey{}, &route)))
	})
}

// routeFlow returns the flow flowCtx resolved for r. Every route with a
// {flow} parameter runs flowCtx, so a missing one is a routing bug: it
// panics, and the recoverer answers 500.
func routeFlow(r *http.Request) *flowRoute {
	return r.Context().Value(flowRouteKey{}).(*flowRoute)
}
