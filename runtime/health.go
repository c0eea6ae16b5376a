package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
)

// Health is what GET /healthz answers, as JSON:
//
//	{"status":"ok","pid":1234,"instance":"9f86d081884c7d65"}
//
// PID and Instance let whoever started flowd check that the server
// answering on an address is the one it started, not another process that
// had the port.
type Health struct {
	// Status is "ok" (HTTP 200).
	Status string `json:"status"`
	// PID is the ID of flowd's process.
	PID int `json:"pid"`
	// Instance is the Server's instance ID (Server.Instance): random, made
	// once per Server, so it tells apart two Servers of one process too.
	Instance string `json:"instance"`
	// Reason says why Status is not "ok"; empty, and left out, when it is.
	Reason string `json:"reason,omitempty"`
}

// healthz returns the handler of GET /healthz. The answer never changes,
// so it is encoded once, here.
func (s *Server) healthz() http.HandlerFunc {
	body, err := json.Marshal(Health{Status: "ok", PID: os.Getpid(), Instance: s.Instance()})
	if err != nil {
		panic(err) // strings and an int always encode
	}
	body = append(body, '\n')
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	}
}

// Instance returns the Server's instance ID, which /healthz answers: 16
// random hex digits (crypto/rand), made once per Server.
func (s *Server) Instance() string { return s.instance }

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
