package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

// reloadFlow is a small flow whose prompt says which version it is. It
// has no flow: key, so its name is its file's, whatever a half-written
// file holds.
func reloadFlow(version string) string {
	return `nodes:
  ask:
    GetDigits:
      numDigits: 1
      children:
        - Speak: "Prompt ` + version + `."
    on:
      no_input: done
    next: route
  route:
    branch:
      - when: input.Digits == "1"
        next: transfer
    next: done
  transfer:
    Dial:
      children:
        - Number: "+14155550101"
    next: done
  done:
    Speak: "Goodbye from ` + version + `."
    next: end
  end:
    Hangup: {}
`
}

const brokenFlow = "nodes:\n  ask:\n    GetDigits: {numDigits: 1}\n    next: nowhere\n"

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startWatched starts flowd on a temporary flows folder it watches.
func startWatched(t *testing.T, open func(*testing.T) runtime.Store, files map[string]string) (*env, string) {
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	e := startEnv(t, envConfig{dir: dir, store: open(t)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// A short quiet period keeps the tests fast; the files here are
	// written whole at once (os.WriteFile of a small file).
	e.reg.QuietPeriod = 50 * time.Millisecond
	if err := e.reg.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	return e, dir
}

// tryAnswer answers a call and returns it, or the status of the refusal.
func (e *env) tryAnswer(flowName string) (*plivosim.Call, int, error) {
	c, err := e.sim.Call(context.Background(), e.answerURL(flowName, nil), nil)
	var se *plivosim.StatusError
	if errors.As(err, &se) {
		return nil, se.Status, nil
	}
	if err != nil {
		return nil, 0, err
	}
	c.HangupURL = e.base + "/flows/" + flowName + "/hangup"
	return c, 200, nil
}

func TestReloadWatch(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e, dir := startWatched(t, open, map[string]string{"first.yaml": reloadFlow("first")})
		if e.reg.Current("first") == nil {
			t.Fatal("first flow not served")
		}
		if _, code, _ := e.tryAnswer("second"); code != 404 {
			t.Fatalf("a flow not written yet: %d", code)
		}
		path := filepath.Join(dir, "second.yaml")

		// Adding a file serves a new flow.
		writeFile(t, path, reloadFlow("one"))
		eventually(t, "the new flow to be served", func() bool { _, code, _ := e.tryAnswer("second"); return code == 200 })
		live, _, err := e.tryAnswer("second")
		if err != nil || !strings.Contains(string(live.XML()), "Prompt one.") {
			t.Fatalf("new flow: %v %s", err, live.XML())
		}
		v1 := e.reg.Current("second").Version

		// Breaking it keeps the last good version serving, and counts a
		// failed reload.
		writeFile(t, path, brokenFlow)
		eventually(t, "a failed reload", func() bool {
			return metricValue(e.metrics(t), `flowd_reloads_total{result="failed"}`) >= 1
		})
		c, code, err := e.tryAnswer("second")
		if code != 200 || err != nil || !strings.Contains(string(c.XML()), "Prompt one.") || e.reg.Current("second").Version != v1 {
			t.Fatalf("broken file: %d %v", code, err)
		}
		if e.reg.Current("first") == nil {
			t.Fatal("a broken file took another flow down")
		}

		// Fixing it serves the new version; the live call stays on its own.
		writeFile(t, path, reloadFlow("two"))
		eventually(t, "the fixed version", func() bool {
			c, _, _ := e.tryAnswer("second")
			return c != nil && strings.Contains(string(c.XML()), "Prompt two.")
		})
		if err := live.Press("2"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(live.XML()), "Goodbye from one.") {
			t.Fatalf("the live call left its version: %s", live.XML())
		}
		if s := e.session(t, live.UUID); s.Version != v1 {
			t.Fatalf("live call version %s, want %s", s.Version, v1)
		}

		// Removing it stops new calls; a call on it finishes.
		onTwo, _, _ := e.tryAnswer("second")
		os.Remove(path)
		eventually(t, "the removed flow to stop", func() bool { _, code, _ := e.tryAnswer("second"); return code == 404 })
		if err := onTwo.Press("1"); err != nil {
			t.Fatalf("a live call on a removed flow: %v", err)
		}
		if w := onTwo.Wait(); w.Kind != "Dial" {
			t.Fatalf("wait %+v", w)
		}
		if err := onTwo.Dial("completed"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(onTwo.XML()), "Goodbye from two.") || !onTwo.Ended() {
			t.Fatalf("%s", onTwo.XML())
		}
		if err := onTwo.Hangup(); err != nil {
			t.Fatal(err)
		}
		if e.reg.Current("first") == nil {
			t.Fatal("removing a file took another flow down")
		}
		m := e.metrics(t)
		if metricValue(m, `flowd_reloads_total{result="ok"}`) < 2 {
			t.Errorf("ok reloads not counted:\n%s", m)
		}
	})
}

// TestReloadUnderLoad: calls run while the flows folder churns; not one
// webhook fails.
func TestReloadUnderLoad(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e, dir := startWatched(t, open, map[string]string{
			"load.yaml":   reloadFlow("v0"),
			"steady.yaml": reloadFlow("steady"),
		})
		path := filepath.Join(dir, "load.yaml")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var (
			calls, webhooks, failed atomic.Int64
			mu                      sync.Mutex
			versions                = map[string]bool{}
			firstErr                error
		)
		fail := func(err error) {
			failed.Add(1)
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				flowName := "load"
				if g%4 == 3 {
					flowName = "steady"
				}
				for i := 0; ctx.Err() == nil; i++ {
					c, err := e.sim.Call(context.Background(), e.answerURL(flowName, nil), nil)
					webhooks.Add(1)
					if err != nil {
						fail(fmt.Errorf("answer: %w", err))
						continue
					}
					c.HangupURL = e.base + "/flows/" + flowName + "/hangup"
					for step := 0; !c.Ended() && step < 5; step++ {
						switch c.Wait().Kind {
						case "GetDigits":
							err = c.Press([]string{"1", "2"}[(i+g)%2])
						case "Dial":
							err = c.Dial("completed")
						default:
							err = fmt.Errorf("unexpected wait %+v", c.Wait())
						}
						webhooks.Add(1)
						if err != nil {
							fail(err)
							break
						}
					}
					if err == nil && !c.Ended() {
						fail(fmt.Errorf("call %s did not end: %s", c.UUID, c.XML()))
					}
					if err := c.Hangup(); err != nil {
						fail(fmt.Errorf("hangup: %w", err))
					}
					webhooks.Add(1)
					calls.Add(1)
					if i%10 == 0 {
						s := e.session(goTB{t}, c.UUID)
						mu.Lock()
						versions[s.Version] = true
						mu.Unlock()
					}
				}
			}()
		}
		// The churn: every 50 ms a new version, a broken file or a fix,
		// written in place (a reload may read it half-written); reloads
		// come from the watcher and, as with SIGHUP, directly.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				switch i % 3 {
				case 0, 1:
					writeFile(t, path, reloadFlow(fmt.Sprint("v", i)))
				case 2:
					writeFile(t, path, brokenFlow)
				}
				if i%2 == 1 {
					e.reg.Reload()
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d of %d webhooks failed; first: %v", failed.Load(), webhooks.Load(), firstErr)
		}
		m := e.metrics(t)
		ok, bad := metricValue(m, `flowd_reloads_total{result="ok"}`), metricValue(m, `flowd_reloads_total{result="failed"}`)
		if ok < 3 || bad < 1 {
			t.Errorf("reloads: %v ok, %v failed", ok, bad)
		}
		if len(versions) < 2 {
			t.Errorf("calls ran on %d versions; the churn did not reach them", len(versions))
		}
		if n, _ := e.store.Live(context.Background()); n != 0 {
			t.Errorf("%d sessions still live after every call hung up", n)
		}
		t.Logf("%d calls, %d webhooks, %d versions, %v ok and %v failed reloads", calls.Load(), webhooks.Load(), len(versions), ok, bad)
	})
}
