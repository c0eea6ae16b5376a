package runtime

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// webhookRoute is one of Plivo's webhook routes. They are in chi's tree,
// which answers every request, and ServeHTTP also matches them itself
// (matchWebhook), which spares a webhook chi's tree walk and the two
// things chi does for every route it finds and flowd never reads: a map
// of http.Request path values (SetPathValue) and the route's pattern as a
// string (r.Pattern). Together they were 330 bytes of garbage and two
// allocations per webhook, a tenth of the answer's in process
// (BenchmarkAnswerHandler/memory), and about 5 % of its CPU.
type webhookRoute struct {
	// pattern is the route as chi has it.
	pattern string
	// segs are pattern's segments, read once here rather than on each
	// request; params are its parameters' names, in order.
	segs   []routeSeg
	params []string
	// chain is the route's handler with every middleware chi runs for
	// it, the top router's first.
	chain http.Handler
}

// routeSeg is a segment of a route's pattern: a literal, or a parameter.
type routeSeg struct {
	literal string
	param   bool
}

// maxRouteParams bounds a webhook route's parameters: match keeps their
// values in an array of this size, on the stack.
const maxRouteParams = 4

// newWebhookRoute returns the route of pattern, whose handler with its
// middlewares is chain. A pattern of more than maxRouteParams parameters
// is a programming error: it panics, when the Server is made.
func newWebhookRoute(pattern string, chain http.Handler) webhookRoute {
	wr := webhookRoute{pattern: pattern, chain: chain}
	for _, seg := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			wr.segs = append(wr.segs, routeSeg{param: true})
			wr.params = append(wr.params, strings.TrimSuffix(name, "}"))
			continue
		}
		wr.segs = append(wr.segs, routeSeg{literal: seg})
	}
	if len(wr.params) > maxRouteParams {
		panic("webhook route " + pattern + ": more than maxRouteParams parameters")
	}
	return wr
}

// matchWebhook returns the webhook route r's path matches, with the
// route's parameters added to rctx as chi adds them; or nil, and chi
// routes the request. It matches only what chi matches the same way,
// to the same parameters: a GET or POST whose path was not escaped in a
// way of its own (chi then matches RawPath), each parameter one whole
// segment, not empty. For anything else — another method, an empty
// segment, a trailing slash — chi decides, with its 404 and 405.
func (s *Server) matchWebhook(r *http.Request, rctx *chi.Context) *webhookRoute {
	if r.Method != http.MethodPost && r.Method != http.MethodGet || r.URL.RawPath != "" ||
		!strings.HasPrefix(r.URL.Path, "/flows/") {
		return nil
	}
	for i := range s.webhooks {
		wr := &s.webhooks[i]
		if wr.match(r.URL.Path, rctx) {
			return wr
		}
	}
	return nil
}

// match reports whether path is the route's, and adds its parameters to
// rctx when it is. It allocates nothing: rctx's parameter arrays are
// reused with it.
func (wr *webhookRoute) match(path string, rctx *chi.Context) bool {
	rest := path[1:] // path starts with "/flows/"
	var vals [maxRouteParams]string
	n := 0
	for i, seg := range wr.segs {
		part := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			if i == len(wr.segs)-1 {
				return false // more segments than the pattern's
			}
			part, rest = rest[:j], rest[j+1:]
		} else if i < len(wr.segs)-1 {
			return false // fewer
		}
		switch {
		case !seg.param:
			if part != seg.literal {
				return false
			}
		case part == "":
			return false
		default:
			vals[n] = part
			n++
		}
	}
	for i, name := range wr.params {
		rctx.URLParams.Add(name, vals[i])
	}
	return true
}
