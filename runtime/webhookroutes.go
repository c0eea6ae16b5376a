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
	// segs are pattern's segments, each a literal or a "{name}".
	segs []string
	// chain is the route's handler with every middleware chi runs for
	// it, the top router's first.
	chain http.Handler
}

// newWebhookRoute returns the route of pattern, whose handler with its
// middlewares is chain.
func newWebhookRoute(pattern string, chain http.Handler) webhookRoute {
	return webhookRoute{pattern: pattern, segs: strings.Split(strings.TrimPrefix(pattern, "/"), "/"), chain: chain}
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
	var vals [4]string
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
		if strings.HasPrefix(seg, "{") {
			if part == "" || n == len(vals) {
				return false
			}
			vals[n] = part
			n++
		} else if part != seg {
			return false
		}
	}
	n = 0
	for _, seg := range wr.segs {
		if strings.HasPrefix(seg, "{") {
			rctx.URLParams.Add(seg[1:len(seg)-1], vals[n])
			n++
		}
	}
	return true
}
