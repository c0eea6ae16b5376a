package runtime_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

// The flows of TestHandOver: front hands the call to desk with a
// Redirect to desk's answer URL, as a flow that passes a caller to
// another team's flow does.
const (
	handFront = `flow: front
vars:
  tries: 0
nodes:
  menu:
    GetDigits:
      numDigits: 1
      children:
        - Speak: Press 1 for the desk.
    next: out
  out:
    Redirect: https://flowd.example.com/flows/desk/answer
`
	handAgain = `flow: again
nodes:
  menu:
    GetDigits:
      numDigits: 1
    next: out
  out:
    Redirect: https://flowd.example.com/flows/again/answer
`
	handDesk = `flow: desk
vars:
  seen: 7
nodes:
  hello:
    Speak: "The desk. {{ vars.seen }}"
    next: ask
  ask:
    GetDigits:
      numDigits: 1
    next: done
  done:
    Speak: "You pressed {{ input.Digits }}."
`
)

// TestHandOver: Plivo follows a Redirect to a flow's answer URL with
// Event=Redirect for a call flowd knows: the flow named starts from its
// start as the call's next step — its vars, its nodes — and the call
// keeps its id, parameters and trace. A copy of the Redirect gets the same
// XML; a copy of the call's first answer does not start anything.
func TestHandOver(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "front.yaml"), handFront)
		writeFile(t, filepath.Join(dir, "desk.yaml"), handDesk)
		writeFile(t, filepath.Join(dir, "again.yaml"), handAgain)
		e := startEnv(t, envConfig{dir: dir, store: open(t)})
		c := e.call(t, "front", map[string]string{"From": "+14155550100"}, nil)
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(c.XML()), "<Redirect>https://flowd.example.com/flows/desk/answer</Redirect>") {
			t.Fatalf("front's XML: %s", c.XML())
		}
		redirect := callbackParams(c, map[string]string{"Event": "Redirect"})
		post2 := func(e *env, path string, p map[string][]string) *plivosim.Response {
			t.Helper()
			r, err := e.sim.Do(context.Background(), plivosim.Request{Method: http.MethodPost, URL: e.base + path, Params: p})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		post := func(flowName string, p map[string][]string) *plivosim.Response {
			t.Helper()
			r, err := e.sim.Do(context.Background(), plivosim.Request{Method: http.MethodPost, URL: e.base + "/flows/" + flowName + "/answer", Params: p})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := post("desk", redirect)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<Speak>The desk. 7</Speak><GetDigits") || !strings.Contains(string(r.Body), "/flows/desk/calls/3/ask/action") {
			t.Fatalf("hand-over: %d %s", r.Status, r.Body)
		}
		s := e.session(t, c.UUID)
		if s.Flow != "desk" || s.Step != 3 || s.Wait != "ask" || s.Status != runtime.StatusLive || s.Call["From"] != "+14155550100" || s.Vars["tries"] != nil {
			t.Fatalf("after the hand-over: flow %s step %d wait %q status %s call %v vars %v", s.Flow, s.Step, s.Wait, s.Status, s.Call, s.Vars)
		}
		if last := s.Trace[len(s.Trace)-1]; last.Webhook != "answer" || last.Flow != "desk" || last.Node != "hello" || last.Inputs["Event"] != "Redirect" {
			t.Fatalf("the hand-over's trace step: %+v", last)
		}
		before := e.record(t, c.UUID)
		// A copy of the Redirect: the same XML, nothing changed.
		if again := post("desk", redirect); again.Status != http.StatusOK || !bytes.Equal(again.Body, r.Body) {
			t.Fatalf("copy of the hand-over: %d %s", again.Status, again.Body)
		}
		sameRecord(t, e, c.UUID, before, "a copy of the hand-over")
		// A late copy of the call's first answer starts nothing.
		first := callbackParams(c, map[string]string{"Event": "StartApp"})
		if late := post("front", first); late.Status == http.StatusOK && strings.Contains(string(late.Body), "GetDigits") && !strings.Contains(string(late.Body), "Press 1 for the desk.") {
			t.Fatalf("late copy of the first answer: %d %s", late.Status, late.Body)
		}
		sameRecord(t, e, c.UUID, before, "a late copy of the first answer")
		// A late copy of front's callback gets the XML its step answered.
		if got, err := e.sim.Do(context.Background(), plivosim.Request{Method: http.MethodPost, URL: e.base + "/flows/front/calls/1/menu/action", Params: callbackParams(c, map[string]string{"Digits": "1"})}); err != nil || got.Status != http.StatusOK || !strings.Contains(string(got.Body), "<Redirect>https://flowd.example.com/flows/desk/answer</Redirect>") {
			t.Fatalf("a late copy of front's callback: %v %+v", err, got)
		}
		sameRecord(t, e, c.UUID, before, "a late copy of front's callback")
		// The call goes on in desk (the simulator would follow the
		// Redirect to flowd.example.com: the test posts what it gets).
		action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(r.Body)
		got, err := e.sim.Do(context.Background(), plivosim.Request{Method: http.MethodPost, URL: string(action[1]), Params: callbackParams(c, map[string]string{"Digits": "4"})})
		if err != nil || !strings.Contains(string(got.Body), "<Speak>You pressed 4.</Speak>") {
			t.Fatalf("desk's callback: %v %+v", err, got)
		}
		// A late copy of the Redirect, once the call moved on, starts
		// nothing again: it gets the hand-over's XML, from the trace.
		before = e.record(t, c.UUID)
		if late := post("desk", redirect); late.Status != http.StatusOK || !bytes.Equal(late.Body, r.Body) {
			t.Fatalf("a late copy of the hand-over: %d %s, want %s", late.Status, late.Body, r.Body)
		}
		sameRecord(t, e, c.UUID, before, "a late copy of the hand-over")
		// Plivo's hangup goes to the hangup URL of the flow the call came
		// to: it ends the call in desk.
		hang := callbackParams(c, map[string]string{"HangupCause": "NORMAL_CLEARING"})
		if r := post2(e, "/flows/front/hangup", hang); r.Status != http.StatusNoContent {
			t.Fatalf("hangup at front's URL after the hand-over: %d %s", r.Status, r.Body)
		}
		if s := e.session(t, c.UUID); s.Status != runtime.StatusHungUp || s.HangupCause != "NORMAL_CLEARING" || s.Flow != "desk" {
			t.Fatalf("after the hangup: flow %s status %s cause %q", s.Flow, s.Status, s.HangupCause)
		}
		// A flow may hand a call to itself: it starts again. A Redirect
		// the call's last XML does not hold is no hand-over.
		c2 := e.call(t, "again", nil, nil)
		if r := post("again", callbackParams(c2, map[string]string{"Event": "Redirect"})); r.Status == http.StatusOK && strings.Contains(string(r.Body), "/calls/2/") {
			t.Fatalf("a Redirect the call was not given handed it over: %s", r.Body)
		}
		if err := c2.Press("1"); err != nil {
			t.Fatal(err)
		}
		if r := post("again", callbackParams(c2, map[string]string{"Event": "Redirect"})); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "/flows/again/calls/3/menu/action") {
			t.Fatalf("hand-over to the same flow: %d %s", r.Status, r.Body)
		}
		// A hung-up call is not handed over.
		if err := c2.Hangup(); err != nil {
			t.Fatal(err)
		}
		if r := post("desk", callbackParams(c2, map[string]string{"Event": "Redirect"})); r.Status != http.StatusOK || strings.Contains(string(r.Body), "desk") || !strings.Contains(string(r.Body), "<Hangup") {
			t.Fatalf("hand-over of a hung-up call: %d %s", r.Status, r.Body)
		}
		if s := e.session(t, c2.UUID); s.Flow != "again" || s.Status != runtime.StatusHungUp {
			t.Fatalf("a hung-up call was handed over: flow %s status %s", s.Flow, s.Status)
		}
	})
}
