package flow_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// crmFlow looks the caller up and routes VIPs.
const crmFlow = `flow: crm
params:
  crm_url: { default: "https://crm.example.com" }
  crm_token: { default: "s3cret-token", secret: true }
nodes:
  lookup:
    http:
      url: "{{ params.crm_url }}/customers?phone={{ urlquery(call.From) }}&key={{ params.crm_token }}"
      method: POST
      headers:
        Authorization: "Bearer {{ params.crm_token }}"
      body: { phone: "{{ call.From }}", tries: "{{ 1 + 2 }}", tags: [a, "{{ call.To }}"], vip: true }
      timeout: 500ms
    on:
      error: normal
    next: route
  route:
    branch:
      - when: nodes.lookup.body.vip == true && nodes.lookup.status == 200
        next: vip
    next: normal
  vip:
    Speak: "Welcome back, {{ nodes.lookup.body.name }}."
  normal:
    Speak: "Hello ({{ nodes.lookup.error }})."
`

// fakeHTTP answers http nodes' requests and keeps them.
type fakeHTTP struct {
	answer func(req *http.Request) (*http.Response, error)
	got    []*http.Request
	bodies []string
}

func (f *fakeHTTP) Do(node string, req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
	}
	f.got = append(f.got, req)
	f.bodies = append(f.bodies, node+" "+string(b))
	return f.answer(req)
}

func answer(status int, body string) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
	}
}

func TestHTTPNode(t *testing.T) {
	g, ds := flow.Compile("crm.yaml", []byte(crmFlow))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	for _, tc := range []struct {
		name     string
		answer   func(*http.Request) (*http.Response, error)
		xml      string
		status   int
		errText  string
		outcome  string
		effected bool
	}{
		{"a VIP", answer(200, `{"vip": true, "name": "Ada", "tier": 3}`), "<Speak>Welcome back, Ada.</Speak>", 200, "", "ok", true},
		{"not a VIP", answer(201, `{"vip": false}`), "<Speak>Hello ().</Speak>", 201, "", "ok", true},
		{"a 503", answer(503, `down`), "<Speak>Hello (status 503).</Speak>", 503, "status 503", "error", true},
		{"a timeout", func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}, "<Speak>Hello (timeout).</Speak>", 0, "timeout", "error", true},
		{"too large", answer(200, `"`+strings.Repeat("x", flow.HTTPMaxBody)+`"`), "<Speak>Hello (body too large).</Speak>", 200, "body too large", "error", true},
		{"refused", func(*http.Request) (*http.Response, error) {
			return nil, errors.New("dial tcp: connect: connection refused")
		}, "<Speak>Hello (request failed).</Speak>", 0, "request failed", "error", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeHTTP{answer: tc.answer}
			effects := 0
			w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), HTTP: fake, Effect: func() error {
				if len(fake.got) > 0 {
					t.Error("the request went out before the step was claimed")
				}
				effects++
				return nil
			}}
			st := g.NewState(map[string]string{"CallUUID": "c", "From": "+1 415", "To": "+14155550199"}, nil)
			r := w.Answer(g, st)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if !strings.Contains(string(r.XML), tc.xml) {
				t.Errorf("XML %s, want %s", r.XML, tc.xml)
			}
			if effects != 1 || len(fake.got) != 1 {
				t.Fatalf("%d claims, %d requests", effects, len(fake.got))
			}
			req := fake.got[0]
			if req.Method != "POST" || req.URL.String() != "https://crm.example.com/customers?phone=%2B1+415&key=s3cret-token" ||
				req.Header.Get("Authorization") != "Bearer s3cret-token" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s %v", req.Method, req.URL, req.Header)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(fake.bodies[0], "lookup ")), &body); err != nil {
				t.Fatal(fake.bodies[0], err)
			}
			if body["phone"] != "+1 415" || body["tries"] != 3.0 || body["vip"] != true || body["tags"].([]any)[1] != "+14155550199" {
				t.Errorf("body %v", body)
			}
			kept := st.Nodes["lookup"]
			if kept["status"] != itoa(tc.status) || kept["error"] != tc.errText || kept["outcome"] != tc.outcome {
				t.Errorf("nodes.lookup = %v", kept)
			}
			if tc.status == 503 && kept["body"] != "down" {
				t.Errorf("a text answer is kept as text: %q", kept["body"])
			}
			if len(r.Requests) != 1 {
				t.Fatalf("requests %v", r.Requests)
			}
			rq := r.Requests[0]
			if rq.Node != "lookup" || rq.Method != "POST" || rq.URL != "https://crm.example.com/customers" || rq.Status != tc.status || rq.Error != tc.errText {
				t.Errorf("the trace's request: %+v", rq)
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestHTTPTraceHidesSecrets checks that what a secret param or a log:
// false input writes into an http node's URL is not in the trace, while
// the request itself carries it.
func TestHTTPTraceHidesSecrets(t *testing.T) {
	const src = `flow: pay
params:
  api: { default: "https://pay.example.com" }
  key: { default: "K3Y", secret: true }
nodes:
  card:
    GetDigits: { numDigits: 4, log: false }
    next: charge
  charge:
    http:
      url: "{{ params.api }}/{{ params.key }}/cards/{{ input.Digits }}/{{ call.From }}?k={{ params.key }}"
    next: done
  done:
    Speak: done
`
	g, ds := flow.Compile("pay.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	for _, tc := range []struct {
		name, digits, made, shown string
		node                      string // where the walk resumes
	}{
		{"after a log: false input", "4242", "https://pay.example.com/K3Y/cards/4242/+1415?k=K3Y", "https://pay.example.com/***/cards/***/+1415", "card"},
		{"rendered without one", "", "https://pay.example.com/K3Y/cards//+1415?k=K3Y", "https://pay.example.com/***/cards//+1415", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeHTTP{answer: answer(200, `{}`)}
			w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), HTTP: fake}
			st := g.NewState(map[string]string{"CallUUID": "c", "From": "+1415", "To": "+14155550199"}, nil)
			var r flow.Result
			if tc.node != "" {
				r = w.Resume(g, st, g.Node(tc.node), flow.EventAction, map[string]string{"Digits": tc.digits})
			} else {
				r = w.Render(g, st, g.Node("charge"))
			}
			if r.Err != nil || len(fake.got) != 1 || len(r.Requests) != 1 {
				t.Fatalf("err %v, %d requests made, trace %v", r.Err, len(fake.got), r.Requests)
			}
			if got := fake.got[0].URL.String(); got != tc.made {
				t.Errorf("request made to %s, want %s", got, tc.made)
			}
			if got := r.Requests[0].URL; got != tc.shown {
				t.Errorf("trace shows %s, want %s", got, tc.shown)
			}
		})
	}
}

// TestRunErrorHidesSecrets: a run-time error whose message quotes a secret
// param's value (expr quotes what it failed on), or what the caller entered
// at a log: false input, is withheld: replacing the value alone would let
// the text around it give it away. It keeps its node and position.
func TestRunErrorHidesSecrets(t *testing.T) {
	const src = `params:
  pin: { default: "abcSECRET1", secret: true }
nodes:
  chk:
    branch:
      - when: int(params.pin) > 3
        next: a
    next: a
  a: { Speak: hi }
`
	g, ds := flow.Compile("sec.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	params, _ := g.ResolveParams(nil)
	r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, params))
	if r.Err == nil || strings.Contains(r.Err.Error(), "SECRET") || !strings.Contains(r.Err.Error(), "node chk (sec.yaml:4:3): its message is withheld") {
		t.Errorf("run error: %v", r.Err)
	}

	// A date built from a secret: "<secret>-02-30" would still say it.
	const dated = `params:
  year: { default: "2026", secret: true }
vars:
  day: "-02-30"
nodes:
  chk:
    branch:
      - when: hours(params.year + vars.day + " closed", "UTC")
        next: a
    next: a
  a: { Speak: hi }
`
	g, ds = flow.Compile("dated.yaml", []byte(dated))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	params, _ = g.ResolveParams(nil)
	r = w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, params))
	if r.Err == nil || strings.Contains(r.Err.Error(), "2026") || !strings.Contains(r.Err.Error(), "withheld") {
		t.Errorf("dated: %v", r.Err)
	}

	// What the caller typed at a log: false input, quoted by int().
	const pin = `nodes:
  ask:
    GetDigits: { numDigits: 4, log: false }
    next: chk
  chk:
    branch:
      - when: int(input.Digits) > 3
        next: a
    next: a
  a: { Speak: hi }
`
	g, ds = flow.Compile("pin.yaml", []byte(pin))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	w.URL = func(node, ev string) string { return "https://flowd.test/" + node + "/" + ev }
	r = w.Resume(g, g.NewState(map[string]string{"CallUUID": "c"}, nil), g.Node("ask"), flow.EventAction, map[string]string{"Digits": "12*4"})
	if r.Err == nil || strings.Contains(r.Err.Error(), "12*4") || !strings.Contains(r.Err.Error(), "withheld") {
		t.Errorf("log: false input: %v", r.Err)
	}
}

// TestParamConvertHidesSecrets: a secret param's value of the wrong type is
// refused without showing it, nor its default.
func TestParamConvertHidesSecrets(t *testing.T) {
	p := flow.ParamDecl{Name: "pin", Type: flow.ParamInt, Default: "1234", Secret: true}
	_, err := p.Convert("98x7")
	if err == nil || strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "98x7") {
		t.Errorf("secret: %v", err)
	}
	p.Secret = false
	if _, err := p.Convert("98x7"); err == nil || !strings.Contains(err.Error(), "want an integer (the type of its default, 1234), not \"98x7\"") {
		t.Errorf("not secret: %v", err)
	}
}
