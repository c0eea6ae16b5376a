package runtime

import (
	"net/http"
	"strings"

	"github.com/flowd-dev/flowd/plivo"
)

// verifySignature rejects a webhook whose X-Plivo-Signature-V3 (or
// -Ma-V3) does not match the public URL Plivo called, when auth tokens
// are configured.
func (s *Server) verifySignature(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.cfg.AuthTokens) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		public := s.base(r) + r.URL.RequestURI()
		var form map[string][]string
		if r.Method == http.MethodPost {
			form = r.PostForm
		}
		if err := plivo.VerifyRequest(r, public, form, s.cfg.AuthTokens...); err != nil {
			s.metrics.errors.WithLabelValues(routeFlow(r).Label, "forged").Inc()
			s.log.Warn("webhook signature rejected", "path", r.URL.Path, "url", public, "err", err)
			http.Error(w, "invalid Plivo signature", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// base returns the public base URL: the configured one, else the scheme
// and host the request was addressed to (through a proxy's
// X-Forwarded-Proto and X-Forwarded-Host, or its Forwarded proto and
// host, when present; addressedHosts decides the host).
func (s *Server) base(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme, _, _ = strings.Cut(p, ",")
		scheme = strings.TrimSpace(scheme)
	} else {
		for k, v := range forwarded(r) {
			if k == "proto" && v != "" {
				scheme = v
				break
			}
		}
	}
	host := ""
	for h := range addressedHosts(r) {
		host = h
		break
	}
	return scheme + "://" + host
}
