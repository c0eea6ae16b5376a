package cluster

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/runtime"
)

// TestWaitHealthy checks WaitHealthy against flowd's /healthz on a real
// listener: it waits through answers that are not flowd's, returns flowd's
// PID and instance, fails at once when flowd answers from another process,
// and gives up when its context ends.
func TestWaitHealthy(t *testing.T) {
	st := runtime.NewMemory()
	t.Cleanup(func() { st.Close() })
	flowd := runtime.New(runtime.Config{Registry: runtime.NewRegistry(t.TempDir(), nil), Store: st})
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) <= 3 { // not up yet: something else answers
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		flowd.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h, err := WaitHealthy(ctx, nil, addr, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if h.PID != os.Getpid() || h.Instance != flowd.Instance() || h.Status != "ok" {
		t.Errorf("answer %+v, want pid %d instance %s", h, os.Getpid(), flowd.Instance())
	}
	if n := asked.Load(); n != 4 {
		t.Errorf("asked %d times, want 4 (3 answers that are not flowd's)", n)
	}

	// Any process will do with pid 0.
	if h, err := WaitHealthy(ctx, nil, addr, 0); err != nil || h.Instance != flowd.Instance() {
		t.Errorf("pid 0: %+v, %v", h, err)
	}

	// Another process's flowd answers: an error at once.
	_, err = WaitHealthy(ctx, nil, addr, os.Getpid()+1)
	if !errors.Is(err, ErrOtherServer) || ctx.Err() != nil {
		t.Errorf("expecting another pid: %v (context: %v); want ErrOtherServer before the deadline", err, ctx.Err())
	}

	// Nothing answers: the context's end.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	short, cancelShort := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancelShort()
	_, err = WaitHealthy(short, nil, strings.TrimPrefix(closed.URL, "http://"), os.Getpid())
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrOtherServer) {
		t.Errorf("closed server: %v, want the context's deadline", err)
	}
}
