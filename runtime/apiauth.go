package runtime

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// apiAuth guards /v1 (traces, the trigger API): a Bearer token
// (FLOWD_API_TOKEN) or HTTP Basic with the Plivo auth id and token, as PHLO
// clients send, whatever address the request comes from — a reverse proxy
// on the same host makes every request look local. With no credentials
// configured, only a purely local flowd (Config.Local) answers, and only
// to loopback; otherwise every request is refused. Refusals are logged,
// without what the client sent.
func (s *Server) apiAuth(next http.Handler) http.Handler {
	return s.guard(next, `Basic realm="flowd", Bearer`)
}

// guard is apiAuth's rule, refusing with the given challenge (the
// console's is Basic alone, which browsers answer with their prompt).
func (s *Server) guard(next http.Handler, challenge string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason := s.apiRefusal(r); reason != "" {
			s.log.Warn("refused an API request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason)
			w.Header().Set("WWW-Authenticate", challenge)
			msg := "unauthorized: send Authorization: Bearer <FLOWD_API_TOKEN> or Basic auth with the Plivo auth id and token"
			if !s.apiConfigured() {
				msg = "unauthorized: this flowd has no API credentials; set FLOWD_API_TOKEN (or PLIVO_AUTH_ID with PLIVO_AUTH_TOKEN) to use /v1"
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) apiConfigured() bool { return s.cfg.APIToken != "" || s.cfg.APIKey != "" }

// apiRefusal says why a request may not use the API, or "" when it may.
func (s *Server) apiRefusal(r *http.Request) string {
	if !s.apiConfigured() {
		switch {
		case !s.cfg.Local:
			return "no API credentials are configured and flowd is not purely local"
		case !loopbackRemote(r.RemoteAddr):
			return "no API credentials are configured and the request is not from loopback"
		}
		return ""
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return "no credentials"
	}
	if tok, ok := bearerToken(h); ok && s.cfg.APIToken != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.APIToken)) == 1 {
			return ""
		}
		return "wrong bearer token"
	}
	if id, key, ok := r.BasicAuth(); ok && s.cfg.APIKey != "" {
		if subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.APIBasicID)) == 1 &&
			subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) == 1 {
			return ""
		}
		return "wrong basic credentials"
	}
	return "credentials of a kind flowd is not configured for"
}

// bearerToken returns the token of a Bearer Authorization header. The
// scheme's name is case-insensitive (RFC 7235 §2.1): "bearer" and
// "BEARER" are Bearer too, as "basic" is Basic to r.BasicAuth.
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(tok, " "), true
}

// loopbackRemote reports whether a request's remote address is loopback.
func loopbackRemote(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return IsLoopbackHost(host)
}

// IsLoopbackHost reports whether a host name or address is the loopback
// interface: localhost, 127.0.0.0/8 or ::1. flowd serve asks it of its
// listen address and public URL to tell a purely local flowd.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
