package runtime

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// limitBody caps a webhook's body: Plivo's are a few hundred bytes.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		next.ServeHTTP(w, r)
	})
}

// parseForm reads a webhook's parameters: the form body of a POST, the
// query of a GET. A body that is too large or badly encoded is a 4xx and
// never reaches a session.
func (s *Server) parseForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			s.metrics.errors.WithLabelValues(routeFlow(r).Label, "bad_request").Inc()
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed request: "+err.Error(), http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// params returns a webhook's parameters, one value per name. For POST
// only the body counts (the callback URL's own path carries flowd's
// routing; Plivo puts nothing in a POST's query).
func params(r *http.Request) map[string]string {
	src := r.Form
	if r.Method == http.MethodPost {
		src = r.PostForm
	}
	out := make(map[string]string, len(src))
	for k, v := range src {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// chiFlow returns the flow named in a webhook's URL, as a metrics label,
// for the recoverer: it runs before flowCtx and sees only chi's route
// context.
func chiFlow(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return flowLabel(rc.URLParam("flow"))
	}
	return ""
}

// flowLabel returns a flow name taken from a URL as a metrics label: the
// name when it is one (flow names match ^[a-z0-9][a-z0-9_-]*$), else
// "invalid". Anyone can put anything in a URL, and a label that is not
// valid UTF-8 makes Prometheus panic.
func flowLabel(name string) string {
	if name == "" || len(name) > 128 {
		return "invalid"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			return "invalid"
		}
	}
	return name
}
