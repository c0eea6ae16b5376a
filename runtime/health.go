package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"
)

// Health is what GET /healthz answers, as JSON:
//
//	{"status":"ok","pid":1234,"instance":"9f86d081884c7d65"}
//
// PID and Instance let whoever started flowd check that the server
// answering on an address is the one it started, not another process that
// had the port. While the session store cannot be reached (a Redis that
// is down, a closed file) the answer is 503 with the reason:
//
//	{"status":"unavailable","pid":1234,"instance":"9f86d081884c7d65","reason":"session store: dial tcp 10.0.0.7:6379: connect: connection refused"}
//
// so a load balancer stops sending calls to a replica that cannot serve
// them.
type Health struct {
	// Status is "ok" (HTTP 200) or "unavailable" (HTTP 503).
	Status string `json:"status"`
	// PID is the ID of flowd's process.
	PID int `json:"pid"`
	// Instance is the Server's instance ID (Server.Instance): random, made
	// once per Server, so it tells apart two Servers of one process too.
	Instance string `json:"instance"`
	// Reason says why Status is not "ok"; empty, and left out, when it is.
	Reason string `json:"reason,omitempty"`
}

// The store check of /healthz: a ping bounded by healthPingTimeout, whose
// answer serves every probe for healthCacheFor, so a load balancer that
// polls hard costs the store one round trip a second.
const (
	healthPingTimeout = time.Second
	healthCacheFor    = time.Second
)

// healthz returns the handler of GET /healthz. The ok answer never
// changes, so it is encoded once, here.
func (s *Server) healthz() http.HandlerFunc {
	ok := encodeHealth(Health{Status: "ok", PID: os.Getpid(), Instance: s.Instance()})
	check := &storeCheck{store: s.store, timeout: healthPingTimeout, every: healthCacheFor, now: time.Now}
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		if err := check.check(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(encodeHealth(Health{Status: "unavailable", PID: os.Getpid(), Instance: s.Instance(), Reason: "session store: " + err.Error()}))
			return
		}
		_, _ = w.Write(ok)
	}
}

func encodeHealth(h Health) []byte {
	body, err := json.Marshal(h)
	if err != nil {
		panic(err) // strings and an int always encode
	}
	return append(body, '\n')
}

// storeCheck pings a store at most once per every: the probes within it
// share the last ping's answer, and the probes that come while a ping
// runs wait for it instead of starting their own.
type storeCheck struct {
	store   Store
	timeout time.Duration // bounds a ping
	every   time.Duration // how long a ping's answer is used
	now     func() time.Time

	mu      sync.Mutex
	at      time.Time     // when the last ping ended (zero: none yet)
	err     error         // its answer
	running chan struct{} // closed when the ping under way ends; nil when none is
	waiting int           // probes waiting for it
}

// check returns the store's state: the last ping's answer while it is
// fresh, else a new ping's. A probe whose request ends while it waits
// for a ping gets the request's error; the ping goes on for the others.
func (c *storeCheck) check(ctx context.Context) error {
	c.mu.Lock()
	if !c.at.IsZero() && c.now().Sub(c.at) < c.every {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if wait := c.running; wait != nil {
		c.waiting++
		c.mu.Unlock()
		var err error
		select {
		case <-wait:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.waiting--
		if err != nil {
			return err
		}
		return c.err
	}
	done := make(chan struct{})
	c.running = done
	c.mu.Unlock()

	err := errPingPanicked
	defer func() {
		c.mu.Lock()
		c.at, c.err, c.running = c.now(), err, nil
		c.mu.Unlock()
		close(done)
	}()
	// Not the request's context: a probe that hangs up must not leave
	// its cancellation as the answer the next probes share.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	err = c.store.Ping(pctx)
	return err
}

var errPingPanicked = errors.New("the store's ping panicked")

// Instance returns the Server's instance ID, which /healthz answers: 16
// random hex digits (crypto/rand), made once per Server.
func (s *Server) Instance() string { return s.instance }

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
