package runtime_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/runtime"
)

// subflowPIN is a PIN check used as a subflow; its prompt says which
// version it is.
func subflowPIN(version string) string {
	return `flow: pin-check
params:
  pin: { default: "4321", secret: true }
vars:
  tries: 1
nodes:
  ask:
    GetDigits:
      numDigits: 4
      log: false
      children:
        - Speak: "PIN check ` + version + `, try {{ vars.tries }}."
    next: verify
  verify:
    branch:
      - when: input.Digits == params.pin
        next: passed
    next: retry
  retry:
    branch:
      - when: vars.tries >= 2
        next: failed
    next: again
  again:
    set: { tries: vars.tries + 1 }
    next: ask
  passed:
    return: { outcome: passed, values: { tries: vars.tries } }
  failed:
    return: failed
`
}

const subflowBridge = `flow: bridge
nodes:
  check:
    subflow: pin-check
    on:
      failed: bye
    next: join
  join:
    Speak: "Welcome, after {{ nodes.check.tries }} tries."
    next: room
  room:
    Conference: bridge
  bye:
    Speak: Goodbye.
`

// TestSubflowCallsResumeInside: a call waiting inside a subflow is called
// back there, each callback URL naming the node through its caller; the
// call is pinned to the subflow's version when it starts, so a reload of
// the subflow changes new calls only; node counts go to the subflow's own
// nodes; the trace shows the frames.
func TestSubflowCallsResumeInside(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e, dir := startWatched(t, open, map[string]string{"pin-check.yaml": subflowPIN("one"), "bridge.yaml": subflowBridge})
		c := e.call(t, "bridge", nil, nil)
		if !strings.Contains(string(c.XML()), "PIN check one, try 1.") {
			t.Fatalf("answer: %s", c.XML())
		}
		if u := c.Wait().URL; !strings.Contains(u, "/calls/1/check.ask/action") {
			t.Errorf("callback URL %s", u)
		}
		s := e.session(t, c.UUID)
		if s.Wait != "check/ask" || len(s.Frames) != 1 || s.Frames[0].Flow != "pin-check" {
			t.Fatalf("state: wait %q frames %+v", s.Wait, s.Frames)
		}
		v1 := e.reg.Current("bridge").Version

		// The subflow changes while the call is in it.
		writeFile(t, filepath.Join(dir, "pin-check.yaml"), subflowPIN("two"))
		eventually(t, "the new subflow to be linked", func() bool { return e.reg.Current("bridge").Version != v1 })

		if err := c.Press("1111"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(c.XML()), "PIN check one, try 2.") {
			t.Fatalf("a wrong PIN, in the version the call started on: %s", c.XML())
		}
		if err := c.Press("4321"); err != nil {
			t.Fatal(err)
		}
		if got := string(c.XML()); !strings.Contains(got, "Welcome, after 2 tries.") || !strings.Contains(got, "<Conference") {
			t.Fatalf("after the subflow returned: %s", got)
		}
		s = e.session(t, c.UUID)
		if s.Wait != "" || len(s.Frames) != 0 || s.Nodes["check"]["outcome"] != "passed" {
			t.Errorf("state after the return: wait %q frames %v nodes %v", s.Wait, s.Frames, s.Nodes)
		}
		redacted := 0
		for _, st := range s.Trace {
			if d, ok := st.Inputs["Digits"]; ok && d != "<redacted>" {
				t.Errorf("step %d keeps the digits entered at a log: false node inside the subflow: %q", st.Step, d)
			} else if ok {
				redacted++
			}
		}
		if redacted != 2 {
			t.Errorf("%d steps with redacted digits, want the 2 PINs entered", redacted)
		}

		fresh := e.call(t, "bridge", nil, nil)
		if !strings.Contains(string(fresh.XML()), "PIN check two, try 1.") {
			t.Errorf("a new call after the reload: %s", fresh.XML())
		}
		m := e.metrics(t)
		if v := metricValue(m, `flowd_node_visits_total{flow="pin-check",node="ask"}`); v != 3 {
			t.Errorf("pin-check ask visits = %v\n%s", v, m)
		}
		if v := metricValue(m, `flowd_node_visits_total{flow="bridge",node="check"}`); v != 2 {
			t.Errorf("bridge check visits = %v", v)
		}
		if strings.Contains(m, `node="check/`) {
			t.Error("a qualified node name is a metrics label")
		}
	})
}

// TestSubflowLinkErrorsKeepServing: a reload that leaves a flow's subflow
// missing rejects the caller's file with the reason at its place, and the
// version serving stays.
func TestSubflowLinkErrorsKeepServing(t *testing.T) {
	e, dir := startWatched(t, func(*testing.T) runtime.Store { return runtime.NewMemory() },
		map[string]string{"pin-check.yaml": subflowPIN("one"), "bridge.yaml": subflowBridge})
	v1 := e.reg.Current("bridge").Version
	writeFile(t, filepath.Join(dir, "bridge.yaml"), strings.Replace(subflowBridge, "subflow: pin-check", "subflow: pin-chek", 1))
	eventually(t, "the reload to reject bridge.yaml", func() bool {
		_, rejected := e.reg.Flows()
		return len(rejected) == 1
	})
	_, rejected := e.reg.Flows()
	if got := rejected[0].Diagnostics.Error(); !strings.Contains(got, `bridge.yaml:4:14: error: node check runs subflow pin-chek, which is no flow of this folder (did you mean "pin-check"?) [unknown-subflow]`) {
		t.Errorf("diagnostics: %s", got)
	}
	if e.reg.Current("bridge").Version != v1 {
		t.Error("the serving version of bridge changed")
	}
	c := e.call(t, "bridge", nil, nil)
	if !strings.Contains(string(c.XML()), "PIN check one") {
		t.Errorf("bridge stopped serving: %s", c.XML())
	}
}

// TestSubflowOnAnotherReplica: a replica that never loaded the flows
// rebuilds the version a call is pinned to, subflows and all, from the
// shared store, and goes on with the call inside the subflow.
func TestSubflowOnAnotherReplica(t *testing.T) {
	st := runtime.NewMemory()
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pin-check.yaml"), subflowPIN("one"))
	writeFile(t, filepath.Join(dir, "bridge.yaml"), subflowBridge)
	a := startEnv(t, envConfig{dir: dir, store: st})
	c := a.call(t, "bridge", nil, nil)
	if c.Wait().URL == "" {
		t.Fatalf("the call waits for nothing: %s", c.XML())
	}

	// Replica b serves other flows, from a folder of its own.
	b := startEnv(t, envConfig{dir: t.TempDir(), store: st, noServer: true})
	u, err := url.Parse(c.Wait().URL)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"CallUUID": {c.UUID}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Digits": {"4321"}}
	req := httptest.NewRequest(http.MethodPost, u.RequestURI(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	if got := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(got, "Welcome, after 1 tries.") {
		t.Fatalf("replica b: %d %s", rec.Code, got)
	}
	s := a.session(t, c.UUID)
	if s.Nodes["check"]["outcome"] != "passed" || len(s.Frames) != 0 {
		t.Errorf("after b: nodes %v frames %v", s.Nodes, s.Frames)
	}
}
