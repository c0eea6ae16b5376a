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
	if h := r.Header; r.Host != "" && h["X-Forwarded-Proto"] == nil && h["Forwarded"] == nil && h["X-Forwarded-Host"] == nil {
		return s.hostBase(scheme, r.Host)
	}
	return forwardedBase(r, scheme)
}

// forwardedBase returns the base URL of a request a proxy may have
// forwarded: scheme unless the proxy names another. Apart from base, whose
// scheme the loop over forwarded would otherwise move to the heap on
// every webhook.
func forwardedBase(r *http.Request, scheme string) string {
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

// hostBase returns scheme://host, the base URL of a request that no
// proxy forwarded: the one made last when it is the same, as it is for
// every webhook of a flowd addressed by one name, where making it was an
// allocation on each.
func (s *Server) hostBase(scheme, host string) string {
	if b := s.lastBase.Load(); b != nil && b.scheme == scheme && b.host() == host {
		return b.url
	}
	b := &hostURL{scheme: scheme, url: scheme + "://" + host}
	s.lastBase.Store(b)
	return b.url
}

// hostURL is a base URL hostBase made: scheme://host.
type hostURL struct{ scheme, url string }

// host is the URL's host: a part of url, so that keeping a hostURL keeps
// nothing of the request it was made for.
func (b *hostURL) host() string { return b.url[len(b.scheme)+len("://"):] }
