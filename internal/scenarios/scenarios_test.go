package scenarios

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/runtime"
)

// inProcess returns a Caller against a runtime.Server in this process,
// serving examples/flows from the memory store, with no signatures and no
// REST credentials (as the e2e replicas run), at the test clock.
func inProcess(t *testing.T) *Caller { return inProcessAt(t, nil) }

// inProcessAt is inProcess with the server's clock (nil: the test clock).
// The http nodes' requests never reach the network: the fake CRM answers
// them in this process (crm_url is CRMURL, crm_token the flow's default),
// and the test fails if a request went anywhere else.
func inProcessAt(t *testing.T, now func() time.Time) *Caller {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	reg := runtime.NewRegistry(filepath.Join(testenv.Root(), "examples", "flows"), log)
	if !reg.Reload() {
		t.Fatal("examples/flows do not all load")
	}
	crm := NewCRM("")
	t.Cleanup(func() {
		if n, u := crm.Stray(); n > 0 {
			t.Errorf("%d requests of http nodes were for another host than the fake CRM's (last: %s)", n, u)
		}
		if n := crm.Unauthorized(); n > 0 {
			t.Errorf("the fake CRM got %d requests without crm-routing's default token", n)
		}
	})
	srv := runtime.New(runtime.Config{Registry: reg, Store: runtime.NewMemory(), Logger: log, Now: now, APIToken: "scenarios",
		HTTP: crm, Params: map[string]string{"crm_url": CRMURL}})
	client := plivosim.HandlerClient(srv)
	api := &http.Client{Transport: bearer{plivosim.Transport(srv)}}
	return &Caller{Sim: &plivosim.Sim{Client: client}, API: api, Base: "http://flowd.test", All: Catalog()}
}

// bearer sends the test server's API token, as /v1 needs.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer scenarios")
	return b.next.RoundTrip(r)
}

func TestNewStep(t *testing.T) {
	s := NewStep("say Yes, it was great.", "q2", "a b | c")
	want := Step{Event: "say", Arg: "Yes, it was great.", Wait: "q2", Paths: [][]string{{"a", "b"}, {"c"}}}
	if s.Event != want.Event || s.Arg != want.Arg || s.Wait != want.Wait || !slices.EqualFunc(s.Paths, want.Paths, slices.Equal) {
		t.Errorf("NewStep = %+v, want %+v", s, want)
	}
	if h := NewStep("hangup", "", ""); h.Event != "hangup" || h.Arg != "" || h.Paths != nil {
		t.Errorf("NewStep(hangup) = %+v", h)
	}
}

// TestCatalogInProcess walks every scenario of the catalog through an
// in-process server inside the example flows' hours and one outside them,
// and checks each call's trace: every scenario must run as itself at one
// of the two clocks, so both sides of every hours() are walked on purpose
// (a scenario that no clock reaches would only ever be an alternative).
func TestCatalogInProcess(t *testing.T) {
	if sc := Catalog()[0]; sc.Flow != "ivr" || sc.Name != "sales" {
		t.Fatalf("Catalog()[0] is %s/%s, want ivr/sales", sc.Flow, sc.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flows := map[string]bool{}
	ran := map[string]bool{} // flow/name of the scenarios run as themselves
	for _, clock := range []time.Time{testenv.Open, testenv.Closed} {
		cl := inProcessAt(t, func() time.Time { return clock })
		for i, sc := range cl.All {
			res, err := cl.Run(ctx, sc, i)
			if err != nil {
				t.Errorf("at %v: %s/%s: %v", clock, sc.Flow, sc.Name, err)
				continue
			}
			if res.CallUUID == "" || res.Scenario.Flow != sc.Flow {
				t.Errorf("at %v: %s/%s: result %+v", clock, sc.Flow, sc.Name, res)
			}
			flows[sc.Flow] = true
			ran[res.Scenario.Flow+"/"+res.Scenario.Name] = true
		}
	}
	for _, sc := range Catalog() {
		if !ran[sc.Flow+"/"+sc.Name] {
			t.Errorf("%s/%s never ran as itself, inside or outside the hours", sc.Flow, sc.Name)
		}
	}

	// Every example flow has a scenario.
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "examples", "flows", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A subflow (pin-check) is walked by the flows that run it.
	set, err := flow.LoadFiles(slices.DeleteFunc(slices.Clone(files), func(f string) bool { return strings.HasSuffix(f, "_test.yaml") }))
	if err != nil {
		t.Fatal(err)
	}
	for name := range flow.SubflowNames(slices.Collect(maps.Values(set.Graphs))...) {
		flows[name] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !strings.HasSuffix(name, "_test") && !flows[name] {
			t.Errorf("examples/flows/%s.yaml has no scenario in Catalog() that ran: add one", name)
		}
	}
}

// TestVerifyCatchesWrongPath checks that a trace that does not match the
// scenario fails with ErrTrace.
func TestVerifyCatchesWrongPath(t *testing.T) {
	cl := inProcess(t)
	ctx := context.Background()
	sales := cl.All[0]
	w, err := cl.RunTo(ctx, sales, len(sales.Steps))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Call.Hangup(); err != nil {
		t.Fatal(err)
	}
	steps := append(slices.Clone(sales.Steps), NewStep("hangup", "", ""))
	if err := cl.Verify(ctx, sales, steps, w.Call.UUID, w.XMLs); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	steps[1] = NewStep("press 1", "sales", "route support")
	if err := cl.Verify(ctx, sales, steps, w.Call.UUID, w.XMLs); err == nil || !strings.Contains(err.Error(), "walked [route sales]") {
		t.Errorf("Verify with a wrong path: %v", err)
	}

	// Run wraps a failed check in ErrTrace.
	wrong := sales
	wrong.Steps = slices.Clone(sales.Steps)
	wrong.Steps[2] = NewStep("dial completed", "", "sorry goodbye hangup")
	if _, err := cl.Run(ctx, wrong, 0); !errors.Is(err, ErrTrace) {
		t.Errorf("Run with a wrong path: %v, want ErrTrace", err)
	}
	tr, err := cl.Trace(ctx, w.Call.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Summary(); !strings.HasPrefix(got, "[1 answer ") || !strings.Contains(got, "[4 hangup ") {
		t.Errorf("Summary = %q", got)
	}
}
