package runtime

import (
	"crypto/subtle"
	"iter"
	"net"
	"net/http"
	"strings"
)

// apiAuth guards /v1 (traces, the trigger API): a Bearer token
// (FLOWD_API_TOKEN) or HTTP Basic with the Plivo auth id and token, as PHLO
// clients send, whatever address the request comes from — a reverse proxy
// on the same host makes every request look local. With no credentials
// configured, only a purely local flowd (Config.Local) answers, and only
// to a loopback peer whose request was addressed to loopback: one that came
// through a proxy for a public name (its Host, X-Forwarded-Host or
// Forwarded host, from which flowd would build its callback URLs) is
// refused; otherwise every request is refused. Refusals are logged,
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
		case !loopbackHostPort(r.RemoteAddr):
			return "no API credentials are configured and the request is not from loopback"
		case !addressedToLoopback(r):
			return "no API credentials are configured and the request was addressed to a host that is not loopback"
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

// loopbackHostPort reports whether a host with or without its port (a
// request's remote address, a Host header) is loopback.
func loopbackHostPort(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
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

// addressedToLoopback reports whether every host a request says it was
// addressed to is loopback. base builds the callback URLs from the first
// of them; all must be loopback so that a proxy which passes a client's
// own X-Forwarded-Host: localhost on, beside the public Host, does not
// make the request look local.
func addressedToLoopback(r *http.Request) bool {
	for h := range addressedHosts(r) {
		if !loopbackHostPort(h) {
			return false
		}
	}
	// A proxy that rewrites Host to loopback (nginx's proxy_pass) still
	// names the client it acts for: any client not on loopback (or one
	// it will not name: "unknown", "_hidden") is not local.
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !loopbackHostPort(c) {
				return false
			}
		}
	}
	for k, c := range forwarded(r) {
		if k == "for" && !loopbackHostPort(c) {
			return false
		}
	}
	return true
}

// addressedHosts yields the hosts (with their ports) a request says it
// was addressed to, in the order base prefers them: each of a proxy's
// X-Forwarded-Host, the host of each Forwarded element (RFC 7239), then
// Host, or without it (HTTP/1.0) the address the request reached. It is
// the one place that decides a request's public host: the callback URLs
// (base) and the API's access rule (apiAuth) both ask it.
func addressedHosts(r *http.Request) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range r.Header.Values("X-Forwarded-Host") {
			for h := range strings.SplitSeq(v, ",") {
				if h = strings.TrimSpace(h); h != "" && !yield(h) {
					return
				}
			}
		}
		for k, h := range forwarded(r) {
			if k == "host" && h != "" && !yield(h) {
				return
			}
		}
		if r.Host != "" {
			yield(r.Host)
			return
		}
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			yield(a.String())
		}
	}
}

// forwarded yields the name and value of each parameter of a request's
// Forwarded headers (RFC 7239 §4), those of the proxy nearest the client
// first, a quoted value unquoted. Commas and semicolons split it even
// inside quotes: no host or proto holds one, and a client's unbalanced
// quote cannot then hide the element a proxy appends after it.
func forwarded(r *http.Request) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, v := range r.Header.Values("Forwarded") {
			for elem := range strings.SplitSeq(v, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, ok := strings.Cut(pair, "=")
					if !ok {
						continue
					}
					v = strings.TrimSpace(v)
					if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
						v = unquote(v[1 : len(v)-1])
					}
					if !yield(strings.ToLower(strings.TrimSpace(k)), v) {
						return
					}
				}
			}
		}
	}
}

// unquote undoes a quoted-string's backslash escapes (RFC 9110 §5.6.4).
func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
