package runtime

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// apiAuth guards /v1: a Bearer token (FLOWD_API_TOKEN) or HTTP Basic with
// the Plivo auth id and token, as PHLO clients send. With neither
// configured, /v1 is open; flowd serve refuses that on a public address.
func (s *Server) apiAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.APIToken == "" && s.cfg.APIKey == "" {
			next.ServeHTTP(w, r)
			return
		}
		if s.apiAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="flowd", Bearer`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: send Authorization: Bearer <FLOWD_API_TOKEN> or Basic auth with the Plivo auth id and token"})
	})
}

func (s *Server) apiAllowed(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && s.cfg.APIToken != "" {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.APIToken)) == 1
	}
	if id, key, ok := r.BasicAuth(); ok && s.cfg.APIKey != "" {
		return subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.APIBasicID)) == 1 &&
			subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) == 1
	}
	return false
}
