package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

// Step is one webhook of a call and what it must do.
type Step struct {
	Event string // answer, press, digits, say, noinput, dial, record, exit, hangup
	Arg   string // the digits, speech or DialStatus
	// Paths are the nodes the step may walk (trace path), alternatives:
	// a flow that reads the clock walks one or the other.
	Paths [][]string
	Wait  string // the node the call then waits at; "" once the flow ended
	// Requests, when not nil, are the requests of http nodes the step
	// makes, in order, each "node METHOD status" with the error when
	// there is one ("lookup GET 503 status 503"); see Want.
	Requests []string
}

// Want returns the step expecting the http requests reqs ("lookup GET
// 200"): the trace step must keep exactly those, without their queries.
func (s Step) Want(reqs ...string) Step {
	s.Requests = append([]string{}, reqs...)
	return s
}

// NewStep makes a step: ev is the event and its argument ("answer",
// "press 1", "digits 7" (posted as given, past Plivo's key rules), "say
// Four.", "dial busy", "noinput", "record", "exit",
// "hangup"); wait is the node the call then waits at ("" once the flow
// ended); paths is the nodes the step walks, separated by spaces, with
// alternatives separated by " | ".
func NewStep(ev, wait, paths string) Step {
	e, arg, _ := strings.Cut(ev, " ")
	s := Step{Event: e, Arg: arg, Wait: wait}
	if paths != "" {
		for _, p := range strings.Split(paths, "|") {
			s.Paths = append(s.Paths, strings.Fields(p))
		}
	}
	return s
}

// Scenario is one call through a flow, from the answer to the end.
type Scenario struct {
	Flow, Name string
	Vars       map[string]any    // initial vars, in the answer URL
	Call       map[string]string // call parameters
	Steps      []Step            // Steps[0] is the answer
}

// Catalog walks every example flow. The flows run without Plivo REST
// credentials, so their REST actions take their error edges, and with
// crm-routing's crm_url at the fake CRM (CRM), never crm.example.com:
// its scenarios pick what the CRM answers by their From number. The server's
// clock decides whether business-hours and contact-center take their open
// or closed branch: scenarios whose answer waits elsewhere are
// alternatives, chosen by where the answer waits, so the catalog runs at
// any clock (its tests run it inside and outside the hours on purpose). Catalog()[0] is
// ivr/sales. Each call returns a fresh slice.
func Catalog() []Scenario {
	st := NewStep
	cb := map[string]any{"ticket": 4521, "agent": "sip:alice@phone.plivo.com"}
	outbound := map[string]string{"Direction": "outbound", "From": "+14155550199", "To": "+14155550100"}
	return []Scenario{
		{Flow: "ivr", Name: "sales", Call: map[string]string{"From": "+14155550100", "To": "+14155550199"}, Steps: []Step{
			st("answer", "menu", "greet menu"),
			st("press 1", "sales", "route sales"),
			st("dial completed", "", "goodbye hangup"),
		}},
		{Flow: "ivr", Name: "support-no-answer", Steps: []Step{
			st("answer", "menu", "greet menu"),
			st("press 2", "support", "route support"),
			st("dial no-answer", "", "sorry goodbye hangup"),
		}},
		{Flow: "ivr", Name: "three-failures", Steps: []Step{
			st("answer", "menu", "greet menu"),
			st("noinput", "menu", "retry too_many invalid menu"),
			st("digits 5", "menu", "route retry too_many invalid menu"),
			st("noinput", "", "retry too_many goodbye hangup"),
		}},
		{Flow: "ivr", Name: "menu-again-then-busy", Steps: []Step{
			st("answer", "menu", "greet menu"),
			st("press 9", "menu", "route menu"),
			st("press 1", "sales", "route sales"),
			st("dial busy", "", "sorry goodbye hangup"),
		}},
		{Flow: "ivr", Name: "hangs-up-in-menu", Steps: []Step{
			st("answer", "menu", "greet menu"),
			st("hangup", "", ""),
		}},

		{Flow: "business-hours", Name: "open-agent-answers", Steps: []Step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial completed", "", "goodbye hangup"),
		}},
		{Flow: "business-hours", Name: "open-busy-voicemail", Steps: []Step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial busy", "voicemail", "agent_busy voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "open-no-answer-voicemail", Steps: []Step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial no-answer", "voicemail", "agent_away voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "closed-voicemail", Steps: []Step{
			st("answer", "voicemail", "check_hours closed closed_reason voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "closed-hangs-up", Steps: []Step{
			st("answer", "voicemail", "check_hours closed closed_reason voicemail_prompt voicemail"),
			st("hangup", "", ""),
		}},

		{Flow: "conference-bridge", Name: "host", Steps: []Step{
			st("answer", "check_pin/ask", "check_pin check_pin/ask"),
			st("press 7351", "host_joins", "check_pin/check check_pin/admin host_joins"),
			st("exit", "", "host_left hangup"),
		}},
		{Flow: "conference-bridge", Name: "guest", Steps: []Step{
			st("answer", "check_pin/ask", "check_pin check_pin/ask"),
			st("press 2468", "guest_joins", "check_pin/check check_pin/member guest_joins"),
			st("exit", "", "guest_left hangup"),
		}},
		{Flow: "conference-bridge", Name: "locked-out", Steps: []Step{
			st("answer", "check_pin/ask", "check_pin check_pin/ask"),
			st("press 1111", "check_pin/ask", "check_pin/check check_pin/wrong check_pin/too_many check_pin/try_again check_pin/ask"),
			st("noinput", "check_pin/ask", "check_pin/wrong check_pin/too_many check_pin/try_again check_pin/ask"),
			st("press 0000", "", "check_pin/check check_pin/wrong check_pin/too_many check_pin/failed locked_out hangup"),
		}},
		{Flow: "team-voicemail", Name: "listen", Steps: []Step{
			st("answer", "check_pin/ask", "hello check_pin check_pin/ask"),
			st("press 2468", "menu", "check_pin/check check_pin/member latest menu"),
			st("press 1", "menu", "latest menu"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "contact-center", Name: "voicemail", Steps: []Step{
			// Open: ring_agents fails without REST credentials.
			st("answer", "voicemail", "greet open voicemail | greet open ring_agents voicemail"),
			st("record", "", "goodbye hangup"),
		}},

		// crm-routing looks the caller up in the fake CRM (crm.go), which
		// answers by the From number; without REST credentials the
		// participants are never added, so every call reaches voicemail.
		{Flow: "crm-routing", Name: "vip", Call: map[string]string{"From": CRMVIP, "To": "+14155550199"}, Steps: []Step{
			st("answer", "voicemail", "lookup route ring_manager ring_agents voicemail").Want("lookup GET 200"),
			st("record", "", "goodbye hangup").Want(),
		}},
		{Flow: "crm-routing", Name: "vip-without-manager", Call: map[string]string{"From": CRMVIPAlone, "To": "+14155550199"}, Steps: []Step{
			st("answer", "voicemail", "lookup route ring_agents voicemail").Want("lookup GET 200"),
			st("hangup", "", ""),
		}},
		{Flow: "crm-routing", Name: "customer", Call: map[string]string{"From": CRMCustomer, "To": "+14155550199"}, Steps: []Step{
			st("answer", "voicemail", "lookup route ring_agents voicemail").Want("lookup GET 200"),
			st("record", "", "goodbye hangup"),
		}},
		{Flow: "crm-routing", Name: "crm-down", Call: map[string]string{"From": CRMDown, "To": "+14155550199"}, Steps: []Step{
			st("answer", "voicemail", "lookup ring_agents voicemail").Want("lookup GET 503 status 503"),
			st("record", "", "goodbye hangup"),
		}},
		{Flow: "crm-routing", Name: "unknown-caller", Call: map[string]string{"From": "+14155550404", "To": "+14155550199"}, Steps: []Step{
			st("answer", "voicemail", "lookup ring_agents voicemail").Want("lookup GET 404 status 404"),
			st("hangup", "", ""),
		}},

		{Flow: "contact-center-callback", Name: "takes-callback", Vars: cb, Call: outbound, Steps: []Step{
			st("answer", "consent", "consent"),
			st("press 1", "", "decide dial_agent later goodbye hangup"), // no REST credentials
		}},
		{Flow: "contact-center-callback", Name: "another-time", Vars: cb, Call: outbound, Steps: []Step{
			st("answer", "consent", "consent"),
			st("press 2", "", "decide later goodbye hangup"),
		}},
		{Flow: "contact-center-callback", Name: "no-answer", Vars: cb, Call: outbound, Steps: []Step{
			st("answer", "consent", "consent"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "contact-center-supervisor", Name: "coach-and-control", Steps: []Step{
			st("answer", "ask_room", "ask_room"),
			st("press 4521", "join", "join"),
			st("exit", "control", "control"),
			st("press 5", "control", "choose hold failed control"),
			st("press 6", "control", "choose resume failed control"),
			st("press 1", "join", "choose join"),
			st("exit", "control", "control"),
			st("digits 7", "control", "choose control"),
			st("press 9", "control", "choose end_room failed control"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "contact-center-supervisor", Name: "no-room", Steps: []Step{
			st("answer", "ask_room", "ask_room"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "preanswer-stream", Name: "hand-off", Steps: []Step{
			st("answer", "", "early_media bot send_extension settle hand_off"),
		}},

		{Flow: "support-agent", Name: "two-calls", Steps: []Step{
			st("answer", "ask_queue", "which_queue ask_queue"),
			st("press 2", "join", "queue_from_keypad join"),
			st("exit", "next_caller", "wrap_up next_caller"),
			st("press 1", "join", "join"),
			st("exit", "next_caller", "wrap_up next_caller"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "support-agent", Name: "two-silences", Steps: []Step{
			st("answer", "ask_queue", "which_queue ask_queue"),
			st("noinput", "ask_queue", "no_entry give_up ask_queue"),
			st("noinput", "", "no_entry give_up goodbye hangup"),
		}},

		{Flow: "support-queue", Name: "billing-rated", Steps: []Step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("press 1", "join_queue", "pick_queue announce join_queue"),
			st("exit", "rate_call", "rate_call"),
			st("press 5", "", "save_rating thanks goodbye hangup"),
		}},
		{Flow: "support-queue", Name: "tech-no-rating", Steps: []Step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("press 2", "join_queue", "pick_queue announce join_queue"),
			st("exit", "rate_call", "rate_call"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "support-queue", Name: "default-queue-hangs-up", Steps: []Step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("noinput", "join_queue", "default_queue announce join_queue"),
			st("hangup", "", ""),
		}},

		{Flow: "support-supervisor", Name: "listen", Steps: []Step{
			st("answer", "ask_queue", "ask_queue"),
			st("press 2", "ask_mode", "ask_mode"),
			st("press 1", "join", "pick_mode join"),
			st("exit", "", "left goodbye hangup"),
		}},
		{Flow: "support-supervisor", Name: "default-mode", Steps: []Step{
			st("answer", "ask_queue", "ask_queue"),
			st("press 1", "ask_mode", "ask_mode"),
			st("noinput", "join", "join"),
			st("exit", "", "left goodbye hangup"),
		}},
		{Flow: "support-supervisor", Name: "no-queue", Steps: []Step{
			st("answer", "ask_queue", "ask_queue"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "survey", Name: "by-voice", Steps: []Step{
			st("answer", "q1", "intro q1"),
			st("say Yes, it was great.", "q2", "q1_answer q1_yes q2"),
			st("say Four.", "", "q2_answer q2_check q2_counted closing hangup"),
		}},
		{Flow: "survey", Name: "keypad", Steps: []Step{
			st("answer", "q1", "intro q1"),
			st("noinput", "q1_keypad", "q1_keypad"),
			st("press 2", "q2", "q1_answer q1_no q2"),
			st("press 5", "", "q2_answer q2_check q2_counted closing hangup"),
		}},
		{Flow: "survey", Name: "unclear", Steps: []Step{
			st("answer", "q1", "intro q1"),
			st("say maybe", "q2", "q1_answer q1_unclear q2"),
			st("say purple", "", "q2_answer q2_check q2_unclear closing hangup"),
		}},
		{Flow: "survey", Name: "silence", Steps: []Step{
			st("answer", "q1", "intro q1"),
			st("noinput", "q1_keypad", "q1_keypad"),
			st("noinput", "q2", "q2"),
			st("noinput", "", "closing hangup"),
		}},
	}
}

// Alternatives returns the scenarios of all that start like sc (same
// flow, vars and call parameters) and whose answer waits at node.
func Alternatives(all []Scenario, sc Scenario, node string) []Scenario {
	var out []Scenario
	for _, x := range all {
		if x.Flow == sc.Flow && fmt.Sprint(x.Vars) == fmt.Sprint(sc.Vars) && fmt.Sprint(x.Call) == fmt.Sprint(sc.Call) && x.Steps[0].Wait == node {
			out = append(out, x)
		}
	}
	return out
}

// ErrTrace marks a call whose webhooks all succeeded but whose trace is
// wrong or missing: a lost or corrupted call.
var ErrTrace = errors.New("trace check failed")

// Caller walks scenarios through flowd as Plivo and a caller would. A
// Caller is safe for concurrent use as long as its fields are not
// changed; copy it to change Think or OnHop for one run.
type Caller struct {
	Sim   *plivosim.Sim            // plays Plivo: sends the webhooks
	API   *http.Client             // reads /v1/calls/{id}
	Base  string                   // flowd's public URL (a proxy's, in front of replicas)
	Think func() time.Duration     // the caller's pause before each event (optional)
	OnHop func(call string, i int) // called after webhook i (0: the answer) of a call (optional)
	All   []Scenario               // where Run looks for alternatives
	// NoVerify skips reading each finished call's trace back in Run.
	NoVerify bool
}

// Result is one walked call.
type Result struct {
	Scenario Scenario // the scenario run (an alternative, for the clock)
	CallUUID string
}

// Walk is a call walked part of the way through a scenario.
type Walk struct {
	Scenario Scenario       // the scenario walked (an alternative, for the clock)
	Call     *plivosim.Call // the call, where it waits now
	XMLs     [][]byte       // the XML answered to each step
}

// Run walks a call through sc (or the alternative its answer leads to),
// hangs up when the scenario does not, and checks the call's trace
// (unless NoVerify). pick chooses among alternatives. A failed trace
// check wraps ErrTrace.
func (c *Caller) Run(ctx context.Context, sc Scenario, pick int) (Result, error) {
	w, err := c.walkTo(ctx, sc, pick, -1)
	res := Result{Scenario: sc}
	if w != nil {
		res.Scenario = w.Scenario
		if w.Call != nil {
			res.CallUUID = w.Call.UUID
		}
	}
	if err != nil {
		return res, err
	}
	sc, call, steps := w.Scenario, w.Call, w.Scenario.Steps
	if steps[len(steps)-1].Event != "hangup" {
		if err := call.Hangup(); err != nil {
			return res, fmt.Errorf("%s/%s %s: hangup: %w", sc.Flow, sc.Name, call.UUID, err)
		}
		steps = append(slices.Clone(steps), NewStep("hangup", "", ""))
	}
	if c.NoVerify {
		return res, nil
	}
	if err := c.Verify(ctx, sc, steps, call.UUID, w.XMLs); err != nil {
		return res, fmt.Errorf("%s/%s %s: %w: %w", sc.Flow, sc.Name, call.UUID, ErrTrace, err)
	}
	return res, nil
}

// RunTo walks a call through the first n steps of sc (n = 1: the answer
// only) and leaves it there, without hanging up.
func (c *Caller) RunTo(ctx context.Context, sc Scenario, n int) (*Walk, error) {
	return c.walkTo(ctx, sc, 0, n)
}

// walkTo answers a call and sends the events of sc's steps up to n (all
// of them when n < 0: the scenario's answer may pick an alternative with
// more steps), checking where the call waits after each.
func (c *Caller) walkTo(ctx context.Context, sc Scenario, pick, n int) (*Walk, error) {
	w := &Walk{Scenario: sc}
	u, err := runtime.AnswerURL(c.Base, sc.Flow, sc.Vars)
	if err != nil {
		return w, err
	}
	call, err := c.Sim.Call(ctx, u, sc.Call)
	w.Call = call
	id := ""
	if call != nil {
		id = call.UUID
	}
	if err != nil {
		return w, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, id, err)
	}
	call.HangupURL = c.Base + "/flows/" + sc.Flow + "/hangup"
	node, err := c.waitNode(sc.Flow, call, 1)
	if err != nil {
		return w, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, id, err)
	}
	if node != sc.Steps[0].Wait {
		alts := Alternatives(c.All, sc, node)
		if len(alts) == 0 {
			return w, fmt.Errorf("%s/%s %s: the answer waits at %q, want %q (no alternative scenario does); XML: %s", sc.Flow, sc.Name, id, node, sc.Steps[0].Wait, call.XML())
		}
		sc = alts[pick%len(alts)]
		w.Scenario = sc
	}
	if c.OnHop != nil {
		c.OnHop(id, 0)
	}
	w.XMLs = [][]byte{call.XML()}
	if n < 0 {
		n = len(sc.Steps)
	}
	for i := 1; i < len(sc.Steps) && i < n; i++ {
		s := sc.Steps[i]
		if c.Think != nil {
			if d := c.Think(); d > 0 {
				select {
				case <-ctx.Done():
					return w, ctx.Err()
				case <-time.After(d):
				}
			}
		}
		where := fmt.Sprintf("%s/%s %s: step %d (%s %s)", sc.Flow, sc.Name, id, i+1, s.Event, s.Arg)
		if err := send(call, s); err != nil {
			return w, fmt.Errorf("%s: %w", where, err)
		}
		if c.OnHop != nil {
			c.OnHop(id, i)
		}
		if s.Event == "hangup" {
			break
		}
		w.XMLs = append(w.XMLs, call.XML())
		node, err := c.waitNode(sc.Flow, call, i+1)
		if err != nil {
			return w, fmt.Errorf("%s: %w", where, err)
		}
		if node != s.Wait {
			return w, fmt.Errorf("%s: the call waits at %q, want %q; XML: %s", where, node, s.Wait, call.XML())
		}
	}
	return w, nil
}

// send sends a step's event.
func send(call *plivosim.Call, s Step) error {
	switch s.Event {
	case "press":
		return call.Press(s.Arg)
	case "digits":
		// Digits posted as given, which Plivo's own collection would not
		// (a key outside validDigits): a flow's catch-all branch for them.
		return call.PressWith(s.Arg, map[string]string{"Digits": s.Arg})
	case "say":
		return call.Say(s.Arg)
	case "noinput":
		return call.NoInput()
	case "dial":
		return call.Dial(s.Arg)
	case "record":
		return call.Record(nil)
	case "exit":
		return call.Exit(nil)
	case "hangup":
		return call.Hangup()
	}
	return fmt.Errorf("unknown event %q", s.Event)
}

// waitNode returns the node whose callback the call's document waits for,
// "" when it waits for nothing of flowd's, and checks that the callback
// URL carries the call's step.
func (c *Caller) waitNode(flowName string, call *plivosim.Call, step int) (string, error) {
	w := call.Wait()
	if w.Ended() {
		return "", nil
	}
	rest, ok := strings.CutPrefix(w.URL, c.Base+"/flows/"+flowName+"/calls/")
	if !ok {
		if strings.HasPrefix(w.URL, c.Base) {
			return "", fmt.Errorf("<%s> calls back %s, not a callback of the flow", w.Kind, w.URL)
		}
		return "", nil // a Redirect to another application: flowd's part ended
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", fmt.Errorf("bad callback URL %s", w.URL)
	}
	if parts[0] != strconv.Itoa(step) {
		return "", fmt.Errorf("callback URL %s is for step %s, want step %d", w.URL, parts[0], step)
	}
	return runtime.NodeOfURL(parts[1]), nil
}

// Trace is what /v1/calls/{id} answers, the fields the checks read.
type Trace struct {
	CallUUID string `json:"call_uuid"`
	Flow     string `json:"flow"`
	Step     int    `json:"step"`
	Status   string `json:"status"`
	Trace    []struct {
		Step    int      `json:"step"`
		Webhook string   `json:"webhook"`
		Node    string   `json:"node"`
		Event   string   `json:"event"`
		Path    []string `json:"path"`
		XML     string   `json:"xml"`
		Error   string   `json:"error"`
		// Requests are the step's requests of http nodes.
		Requests []struct {
			Node   string `json:"node"`
			Method string `json:"method"`
			URL    string `json:"url"`
			Status int    `json:"status"`
			Error  string `json:"error"`
		} `json:"requests"`
	} `json:"trace"`
}

// Summary is the trace on one line, a bracket per step: step, webhook,
// node/event and path.
func (tr *Trace) Summary() string {
	var b strings.Builder
	for _, s := range tr.Trace {
		fmt.Fprintf(&b, "[%d %s %s/%s %v] ", s.Step, s.Webhook, s.Node, s.Event, s.Path)
	}
	return b.String()
}

// Trace reads a call's trace from Base + /v1/calls/{id} with API.
func (c *Caller) Trace(ctx context.Context, id string) (*Trace, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/calls/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.API.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/calls/%s: %d %s", id, resp.StatusCode, b)
	}
	var tr Trace
	if err := json.Unmarshal(b, &tr); err != nil {
		return nil, err
	}
	return &tr, nil
}

// Verify checks a finished call's trace against its steps (the
// scenario's, with the hangup appended when the scenario does not end
// with it): one trace step per webhook, in order, each with the expected
// node, event and path and the XML the simulator received (xmls[i] for
// step i, where given); the call hung up.
func (c *Caller) Verify(ctx context.Context, sc Scenario, steps []Step, id string, xmls [][]byte) error {
	tr, err := c.Trace(ctx, id)
	if err != nil {
		return err
	}
	if tr.CallUUID != id || tr.Flow != sc.Flow {
		return fmt.Errorf("the trace is of call %s in flow %s", tr.CallUUID, tr.Flow)
	}
	if tr.Status != runtime.StatusHungUp {
		return fmt.Errorf("status %q, want %q", tr.Status, runtime.StatusHungUp)
	}
	if tr.Step != len(steps) || len(tr.Trace) != len(steps) {
		return fmt.Errorf("step %d with %d trace steps, want %d: %s", tr.Step, len(tr.Trace), len(steps), tr.Summary())
	}
	for i, s := range steps {
		got := tr.Trace[i]
		want := "callback"
		switch {
		case i == 0:
			want = "answer"
		case s.Event == "hangup":
			want = "hangup"
		}
		if got.Step != i+1 || got.Webhook != want {
			return fmt.Errorf("trace step %d is step %d webhook %q, want %d %q: %s", i+1, got.Step, got.Webhook, i+1, want, tr.Summary())
		}
		if got.Error != "" {
			return fmt.Errorf("trace step %d has a run-time error: %s", i+1, got.Error)
		}
		if want == "callback" {
			ev := "action"
			switch s.Event {
			case "noinput":
				ev = "no_input"
			case "exit":
				ev = "exit"
			}
			if got.Node != steps[i-1].Wait || got.Event != ev {
				return fmt.Errorf("trace step %d is %s/%s, want %s/%s", i+1, got.Node, got.Event, steps[i-1].Wait, ev)
			}
		}
		if want != "hangup" {
			ok := false
			for _, p := range s.Paths {
				ok = ok || slices.Equal(p, got.Path)
			}
			if !ok {
				return fmt.Errorf("trace step %d walked %v, want %v", i+1, got.Path, s.Paths)
			}
			if i < len(xmls) && got.XML != string(xmls[i]) {
				return fmt.Errorf("trace step %d answered\n%s\nbut the simulator got\n%s", i+1, got.XML, xmls[i])
			}
		}
		var reqs []string
		for _, r := range got.Requests {
			if strings.ContainsAny(r.URL, "?#") {
				return fmt.Errorf("trace step %d keeps the request URL %s with its query", i+1, r.URL)
			}
			reqs = append(reqs, strings.TrimSpace(fmt.Sprintf("%s %s %d %s", r.Node, r.Method, r.Status, r.Error)))
		}
		if s.Requests != nil && !slices.Equal(reqs, s.Requests) {
			return fmt.Errorf("trace step %d made the requests %q, want %q", i+1, reqs, s.Requests)
		}
	}
	return nil
}
