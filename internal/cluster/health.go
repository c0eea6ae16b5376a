package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/flowd-dev/flowd/runtime"
)

// ErrOtherServer is wrapped by WaitHealthy's error when flowd answers
// /healthz from another process than the one expected: another server
// has the port.
var ErrOtherServer = errors.New("another process answers")

// healthClient asks /healthz when the caller gives no client.
var healthClient = &http.Client{Timeout: 2 * time.Second}

// CheckHealth asks the flowd at addr (host:port) for GET /healthz once and
// returns its answer. An answer other than 200 with flowd's JSON is an
// error; client nil means one with a 2 s timeout.
func CheckHealth(ctx context.Context, client *http.Client, addr string) (runtime.Health, error) {
	var h runtime.Health
	if client == nil {
		client = healthClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return h, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(body, &h); err != nil || h.PID == 0 {
		return runtime.Health{}, fmt.Errorf("GET http://%s/healthz: %s, not flowd's answer: %.200q", addr, resp.Status, bytes.TrimSpace(body))
	}
	if resp.StatusCode != http.StatusOK || h.Status != "ok" {
		return h, fmt.Errorf("GET http://%s/healthz: %s, status %q %s", addr, resp.Status, h.Status, h.Reason)
	}
	return h, nil
}

// WaitHealthy asks the flowd at addr for /healthz every 25 ms until it
// answers 200, and returns its answer (PID and Instance). When pid is not
// 0 the answer must come from that process, the one the caller started:
// flowd answering from another fails at once with an error that wraps
// ErrOtherServer. It gives up when ctx ends, with the last error. client
// nil means one with a 2 s timeout.
func WaitHealthy(ctx context.Context, client *http.Client, addr string, pid int) (runtime.Health, error) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		h, err := CheckHealth(ctx, client, addr)
		if h.PID != 0 && pid != 0 && h.PID != pid {
			return h, fmt.Errorf("%s: flowd pid %d (instance %s) answers /healthz, not pid %d: %w", addr, h.PID, h.Instance, pid, ErrOtherServer)
		}
		if err == nil {
			return h, nil
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("%s did not answer /healthz: %w (%w)", addr, err, ctx.Err())
		case <-tick.C:
		}
	}
}
