//go:build unix

package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// TestKillAndRestart runs the flowd binary on each embedded durable
// store (the journal and bbolt), kills
// it with SIGKILL in the middle of a call, starts it again on the same
// store and finishes the call with the callback URL issued before the
// kill. Between the two runs the flow's prompt changes: the old call stays
// on the version it started on, a new call gets the new one.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the flowd binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "flowd")
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build flowd with: %v", err)
	}
	build := exec.Command(gobin, "build", "-o", bin, "../cmd/flowd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, store := range []string{"journal:state", "bolt:state/s.db"} {
		t.Run(strings.Split(store, ":")[0], func(t *testing.T) {
			tmp := t.TempDir()
			scheme, path, _ := strings.Cut(store, ":")
			killAndRestart(t, bin, tmp, scheme+":"+filepath.Join(tmp, path))
		})
	}
}

func killAndRestart(t *testing.T, bin, tmp, db string) {
	flows := filepath.Join(tmp, "flows")
	copyFlows(t, examplesDir, flows)
	ivr := filepath.Join(flows, "ivr.yaml")
	const oldPrompt, newPrompt = "Press 1 for sales", "Press 1 for our sales team"
	src, err := os.ReadFile(ivr)
	if err != nil || !bytes.Contains(src, []byte(oldPrompt)) {
		t.Fatalf("examples/flows/ivr.yaml has no %q to change (%v)", oldPrompt, err)
	}
	addr := freeAddr(t)
	base := "http://" + addr

	p := startFlowd(t, bin, flows, addr, db)
	sim := &plivosim.Sim{HangupURL: base + "/flows/ivr/hangup"}
	ctx := context.Background()
	c, err := sim.Call(ctx, base+"/flows/ivr/answer", map[string]string{"CallerName": "Kim"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Press("9"); err != nil { // one step: the menu again
		t.Fatal(err)
	}
	if !strings.Contains(string(c.XML()), oldPrompt) || c.Wait().Kind != "GetDigits" {
		t.Fatalf("before the kill: %s", c.XML())
	}
	before := traceOf(t, base, c.UUID)
	callbackURL := c.Wait().URL

	p.kill(t)
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("flowd still answers after SIGKILL")
	}
	// A new prompt while flowd is down.
	if err := os.WriteFile(ivr, bytes.Replace(src, []byte(oldPrompt), []byte(newPrompt), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	p = startFlowd(t, bin, flows, addr, db)

	// The old call goes on from the callback URL issued before the kill,
	// on its own version: the menu it hears again is the old one.
	if c.Wait().URL != callbackURL {
		t.Fatalf("the call moved: %s", c.Wait().URL)
	}
	if err := c.Press("9"); err != nil {
		t.Fatalf("the callback issued before the kill: %v\n%s", err, p.logs())
	}
	if xml := string(c.XML()); !strings.Contains(xml, oldPrompt+",") || strings.Contains(xml, newPrompt) {
		t.Fatalf("the old call left its version:\n%s", xml)
	}
	if err := c.Press("1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Dial("completed"); err != nil {
		t.Fatal(err)
	}
	if !c.Ended() || !strings.Contains(string(c.XML()), "<Hangup/>") {
		t.Fatalf("the old call did not end: %s", c.XML())
	}
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	after := traceOf(t, base, c.UUID)
	if after.Version != before.Version || after.Status != "hung-up" || after.Step != 6 || len(after.Trace) != 6 {
		t.Fatalf("old call after the restart: version %s (was %s), status %s, step %d, %d trace steps",
			after.Version, before.Version, after.Status, after.Step, len(after.Trace))
	}
	for i, st := range before.Trace {
		if after.Trace[i].XML != st.XML {
			t.Fatalf("step %d of the trace changed across the restart", i+1)
		}
	}

	// A new call gets the new version.
	n, err := sim.Call(ctx, base+"/flows/ivr/answer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(n.XML()), newPrompt) {
		t.Fatalf("a new call after the restart:\n%s", n.XML())
	}
	if v := traceOf(t, base, n.UUID).Version; v == before.Version {
		t.Fatalf("the new call runs the old version %s", v)
	}
	p.kill(t)
}

// copyFlows copies the flow files of a folder.
func copyFlows(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// flowdProc is a running flowd serve.
type flowdProc struct {
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan struct{}
}

func (p *flowdProc) logs() string { return p.out.String() }

// startFlowd starts flowd serve on a store URL and waits until it
// answers /healthz.
func startFlowd(t *testing.T, bin, flows, addr, store string) *flowdProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--flows", flows, "--addr", addr, "--store", store,
		"--clock", testenv.ClockStart().Format(time.RFC3339),
		// A look-up goes nowhere: a test never reaches the network.
		"--param", "crm_url=http://127.0.0.1:1")
	// No signatures, no API credentials: flowd listens on loopback.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLIVO_") && !strings.HasPrefix(kv, "FLOWD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &flowdProc{cmd: cmd, out: &testenv.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("flowd exited: %v\n%s", cmd.ProcessState, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("flowd did not come up on %s:\n%s", addr, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL to the process (by its PID) and waits for it to go.
func (p *flowdProc) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Errorf("kill %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("flowd %d did not die", p.cmd.Process.Pid)
	}
}

// traceOf reads a call's trace from a running flowd.
func traceOf(t *testing.T, base, id string) *traceDoc {
	t.Helper()
	resp, err := http.Get(base + "/v1/calls/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d traceDoc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("trace of %s: %d %v", id, resp.StatusCode, err)
	}
	return &d
}

type traceDoc struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Step    int    `json:"step"`
	Trace   []struct {
		XML string `json:"xml"`
	} `json:"trace"`
}
