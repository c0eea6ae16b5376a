package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/cluster"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/scenarios"
)

// TestReplicas runs three flowd replicas on one redis-server behind a
// round-robin proxy and checks, with simulated calls whose traces are
// read back from /v1/calls: every example flow walked to its end with
// webhooks spread over the replicas; the same callback sent to every
// replica at once advancing the call once; a replica killed with SIGKILL
// and redis-server restarted while calls are in progress, the calls
// finishing correctly.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-replica end-to-end test (it builds flowd and runs redis-server)")
	}
	c := startCluster(t, 3)
	cl := &scenarios.Caller{Sim: c.sim, API: c.api, Base: c.proxyURL, All: scenarios.Catalog()}

	t.Run("every-flow", func(t *testing.T) { testEveryFlow(t, c, cl) })
	t.Run("duplicate-webhooks", func(t *testing.T) { testDuplicates(t, c, cl) })
	t.Run("redis-restart", func(t *testing.T) { testRedisRestart(t, c, cl) })
	t.Run("replica-killed", func(t *testing.T) { testReplicaKilled(t, c, cl) })
	// Regressions: concurrent events were once lost, and a hangup during
	// a store outage was once answered 200 and never retried.
	t.Run("concurrent-events-kept", func(t *testing.T) { testConcurrentEvents(t, c, cl) })
	t.Run("hangup-during-outage-retried", func(t *testing.T) { testHangupDuringOutage(t, c, cl) })
}

// runMany walks scs with workers calls at a time and returns the errors.
func runMany(ctx context.Context, cl *scenarios.Caller, scs []scenarios.Scenario, workers int, started, finished *atomic.Int64) ([]scenarios.Result, []error) {
	var (
		mu      sync.Mutex
		results []scenarios.Result
		errs    []error
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(scs) || ctx.Err() != nil {
					return
				}
				if started != nil {
					started.Add(1)
				}
				res, err := cl.Run(ctx, scs[i], i)
				if finished != nil {
					finished.Add(1)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					results = append(results, res)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results, errs
}

func reportErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(err)
	}
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// testEveryFlow walks every scenario of every example flow twice.
func testEveryFlow(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	files, err := filepath.Glob("../examples/flows/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var flows, flowFiles []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.yaml") {
			flowFiles = append(flowFiles, f)
		}
	}
	set, err := flow.LoadFiles(flowFiles)
	if err != nil {
		t.Fatal(err)
	}
	// A subflow (pin-check) is walked by the flows that run it.
	subflows := flow.SubflowNames(slices.Collect(maps.Values(set.Graphs))...)
	for _, f := range flowFiles {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !subflows[name] {
			flows = append(flows, name)
		}
	}
	covered := map[string]bool{}
	for _, sc := range cl.All {
		covered[sc.Flow] = true
	}
	for _, f := range flows {
		if !covered[f] {
			t.Errorf("examples/flows/%s.yaml has no scenario in scenarios.Catalog(): add one", f)
		}
	}

	before := c.webhooks()
	crmBefore := c.crm.Requests()
	scs := append(slices.Clone(cl.All), cl.All...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, errs := runMany(ctx, cl, scs, 8, nil, nil)
	reportErrors(t, errs)
	ran := map[string]int{}
	for _, r := range results {
		ran[r.Scenario.Flow+"/"+r.Scenario.Name]++
	}
	ranFlows := map[string]bool{}
	for _, r := range results {
		ranFlows[r.Scenario.Flow] = true
	}
	for _, f := range flows {
		if !ranFlows[f] {
			t.Errorf("no call of flow %s completed", f)
		}
	}
	t.Logf("%d calls completed over %d flows (%d scenarios)", len(results), len(ranFlows), len(ran))
	// crm-routing's calls looked their callers up in the test's fake CRM,
	// with the token given to the replicas.
	crmCalls := 0
	for _, sc := range scs {
		if sc.Flow == "crm-routing" {
			crmCalls++
		}
	}
	if n := c.crm.Requests() - crmBefore; n != int64(crmCalls) {
		t.Errorf("the fake CRM got %d look-ups for %d crm-routing calls", n, crmCalls)
	}
	if n := c.crm.Unauthorized(); n > 0 {
		t.Errorf("the fake CRM got %d requests without the replicas' crm_token", n)
	}

	after := c.webhooks()
	served := c.proxy.Served()
	for i, r := range c.replicas {
		n := after[i] - before[i]
		t.Logf("%s: %v webhooks (flowd_webhooks_total), %d requests from the proxy", r.Name, n, served[i])
		if n <= 0 {
			t.Errorf("%s served no webhook: the proxy does not spread the calls", r.Name)
		}
	}
}

// pinned sends every request to one replica, keeping the URL's host as
// the Host header, as the proxy does.
type pinned struct {
	addr string
	tr   *http.Transport
}

func (p pinned) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Host = req.URL.Host
	r.URL.Host = p.addr
	return p.tr.RoundTrip(r)
}

// burst sends the same request to every replica copies times, all at
// once, and returns the answers.
func burst(t *testing.T, c *testCluster, req plivosim.Request, copies int) []*plivosim.Response {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	var sims []*plivosim.Sim
	for _, r := range c.replicas {
		sims = append(sims, &plivosim.Sim{Client: &http.Client{Transport: pinned{r.Addr, tr}, Timeout: 10 * time.Second}, AuthToken: authToken})
	}
	n := copies * len(sims)
	out := make([]*plivosim.Response, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[i], errs[i] = sims[i%len(sims)].Do(context.Background(), req)
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
	}
	return out
}

// sameAnswers checks that every answer has the status and the same body.
func sameAnswers(t *testing.T, what string, answers []*plivosim.Response, status int) []byte {
	t.Helper()
	statuses := map[int]int{}
	bodies := map[string]int{}
	for _, a := range answers {
		statuses[a.Status]++
		bodies[string(a.Body)]++
	}
	if len(statuses) != 1 || statuses[status] != len(answers) {
		for b, n := range bodies {
			t.Logf("%d× %q", n, b)
		}
		t.Fatalf("%s: statuses %v, want %d answers %d", what, statuses, len(answers), status)
	}
	if len(bodies) != 1 {
		for b, n := range bodies {
			t.Logf("%d× %q", n, b)
		}
		t.Fatalf("%s: %d different answers", what, len(bodies))
	}
	return answers[0].Body
}

// testDuplicates sends the same answer, callback and hangup to all three
// replicas at once, 10 copies each: the call advances once per webhook and
// every copy gets the same answer.
func testDuplicates(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	ctx := context.Background()
	const copies = 10
	base := c.proxyURL

	// A fresh call's answer.
	id := plivosim.NewUUID()
	params := url.Values{}
	for k, v := range map[string]string{"CallUUID": id, "From": "+14155550100", "To": "+14155550199", "Direction": "inbound",
		"CallStatus": "ringing", "Event": "StartApp", "CallerName": "", "RequestUUID": plivosim.NewUUID()} {
		params.Set(k, v)
	}
	answers := burst(t, c, plivosim.Request{Method: http.MethodPost, URL: base + "/flows/ivr/answer", Params: params}, copies)
	answerXML := sameAnswers(t, "answer ×30", answers, http.StatusOK)
	if bytes.Equal(answerXML, cluster.ApologyXML) || !bytes.Contains(answerXML, []byte("/flows/ivr/calls/1/menu/action")) {
		t.Fatalf("the answer is not the menu: %s", answerXML)
	}
	tr, err := cl.Trace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Step != 1 || len(tr.Trace) != 1 {
		t.Fatalf("after 30 copies of the answer the call is at step %d with %d trace steps, want 1: %s", tr.Step, len(tr.Trace), tr.Summary())
	}

	// The menu's callback: press 1.
	call, err := c.sim.Resume(ctx, map[string]string{"CallUUID": id, "From": "+14155550100", "To": "+14155550199"}, answerXML)
	if err != nil {
		t.Fatal(err)
	}
	cb := url.Values{}
	for k, v := range params {
		cb[k] = v
	}
	cb.Del("Event")
	cb.Set("CallStatus", "in-progress")
	cb.Set("Digits", "1")
	retriesBefore := sum(c.webhooks(`webhook="callback"`, `outcome="retry"`))
	callbacksBefore := sum(c.webhooks(`webhook="callback"`))
	answers = burst(t, c, plivosim.Request{Method: http.MethodPost, URL: call.Wait().URL, Params: cb}, copies)
	dialXML := sameAnswers(t, "callback ×30", answers, http.StatusOK)
	if !bytes.Contains(dialXML, []byte("<Dial")) {
		t.Fatalf("pressing 1 did not dial sales: %s", dialXML)
	}
	tr, err = cl.Trace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Step != 2 || len(tr.Trace) != 2 {
		t.Fatalf("after 30 copies of one callback the call is at step %d with %d trace steps, want 2: %s", tr.Step, len(tr.Trace), tr.Summary())
	}
	retries := sum(c.webhooks(`webhook="callback"`, `outcome="retry"`)) - retriesBefore
	callbacks := sum(c.webhooks(`webhook="callback"`)) - callbacksBefore
	t.Logf("30 copies of one callback: %v advanced the call, %v answered as retries", callbacks-retries, retries)
	if callbacks-retries != 1 || retries != 3*copies-1 {
		t.Errorf("flowd_webhooks_total: %v callbacks advanced the call and %v were retries, want 1 and %d", callbacks-retries, retries, 3*copies-1)
	}

	// The rest of the call goes through the proxy, then 30 hangups.
	call, err = c.sim.Resume(ctx, map[string]string{"CallUUID": id, "From": "+14155550100", "To": "+14155550199"}, dialXML)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Dial("completed"); err != nil {
		t.Fatal(err)
	}
	hp := url.Values{}
	for k, v := range params {
		hp[k] = v
	}
	hp.Set("Event", "Hangup")
	hp.Set("CallStatus", "completed")
	hp.Set("HangupCause", "NORMAL_CLEARING")
	answers = burst(t, c, plivosim.Request{Method: http.MethodPost, URL: base + "/flows/ivr/hangup", Params: hp}, copies)
	sameAnswers(t, "hangup ×30", answers, http.StatusNoContent)
	sales := scenarios.Catalog()[0]
	if sales.Flow != "ivr" || sales.Name != "sales" {
		t.Fatal("scenarios.Catalog()[0] is not ivr/sales")
	}
	steps := append(slices.Clone(sales.Steps), scenarios.NewStep("hangup", "", ""))
	if err := cl.Verify(ctx, sales, steps, id, [][]byte{answerXML, dialXML, call.XML()}); err != nil {
		t.Fatal(err)
	}

	// Plivo sends a Dial's action and the hangup together: with both
	// sent to every replica at once, the call must end hung up, with the
	// Dial's result kept once and the hangup once, whichever came first
	// (a callback the call waited at is taken after its hangup too).
	for range 5 {
		sc := scenarios.Catalog()[0]
		res, err := cl.RunTo(ctx, sc, 2)
		if err != nil {
			t.Fatal(err)
		}
		call := res.Call
		dial := url.Values{}
		for k, v := range call.Params {
			dial.Set(k, v)
		}
		dial.Del("Event")
		dial.Set("CallStatus", "in-progress")
		dial.Set("DialStatus", "completed")
		hang := url.Values{}
		for k, v := range call.Params {
			hang.Set(k, v)
		}
		hang.Set("Event", "Hangup")
		hang.Set("CallStatus", "completed")
		hang.Set("HangupCause", "NORMAL_CLEARING")
		var wg sync.WaitGroup
		var dialAnswers, hangAnswers []*plivosim.Response
		wg.Add(2)
		go func() {
			defer wg.Done()
			dialAnswers = burst(t, c, plivosim.Request{Method: http.MethodPost, URL: call.Wait().URL, Params: dial}, 2)
		}()
		go func() {
			defer wg.Done()
			hangAnswers = burst(t, c, plivosim.Request{Method: http.MethodPost, URL: base + "/flows/ivr/hangup", Params: hang}, 2)
		}()
		wg.Wait()
		codes := map[int]int{}
		for _, a := range dialAnswers {
			codes[a.Status]++
			if a.Status != http.StatusOK && a.Status != http.StatusConflict {
				t.Errorf("Dial action racing the hangup: %d %s", a.Status, a.Body)
			}
		}
		for _, a := range hangAnswers {
			if a.Status != http.StatusNoContent {
				t.Errorf("hangup racing the Dial action: %d %s", a.Status, a.Body)
			}
		}
		tr, err := cl.Trace(ctx, call.UUID)
		if err != nil {
			t.Fatal(err)
		}
		hangups, dials := 0, 0
		for _, st := range tr.Trace {
			switch {
			case st.Webhook == "hangup":
				hangups++
			case st.Node == "sales" && st.Event == "action":
				dials++
			}
		}
		if tr.Status != "hung-up" || hangups != 1 || dials != 1 || tr.Step != len(tr.Trace) {
			t.Errorf("Dial action and hangup raced (Dial answers %v): status %q, step %d: %s", codes, tr.Status, tr.Step, tr.Summary())
		}
	}
}

// faultLoad runs n calls, workers at a time, with a caller pausing 5 to
// 35 ms before each event, and calls fault once the calls made at least
// hops webhooks (and are in progress). It returns the calls' errors.
func faultLoad(t *testing.T, cl *scenarios.Caller, n, workers int, ready func(hops int64) bool, fault func(inProgress int64)) []error {
	t.Helper()
	var hops, started, finished atomic.Int64
	fc := *cl
	fc.Think = func() time.Duration { return time.Duration(5+rand.IntN(30)) * time.Millisecond }
	fc.OnHop = func(string, int) { hops.Add(1) }
	scs := make([]scenarios.Scenario, n)
	for i := range scs {
		scs[i] = cl.All[i%len(cl.All)]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	done := make(chan []error, 1)
	go func() {
		_, errs := runMany(ctx, &fc, scs, workers, &started, &finished)
		done <- errs
	}()
	deadline := time.After(20 * time.Second)
	for !ready(hops.Load()) {
		select {
		case errs := <-done:
			t.Fatalf("the calls ended (%d errors) before the fault could be injected", len(errs))
		case <-deadline:
			t.Fatalf("the fault's condition was not met in 20 s (%d webhooks)", hops.Load())
		case <-time.After(2 * time.Millisecond):
		}
	}
	inProgress := started.Load() - finished.Load()
	t.Logf("fault after %d webhooks, %d calls in progress", hops.Load(), inProgress)
	if inProgress == 0 {
		t.Error("no call was in progress when the fault was injected")
	}
	fault(inProgress)
	errs := <-done
	t.Logf("%d calls made %d webhooks; %d failed", n, hops.Load(), len(errs))
	return errs
}

// redisOutage is how long redis-server stays down. While it is down a
// webhook waits about 1.7 s in go-redis's dial retries before flowd
// answers its apology, so a shorter outage is absorbed by those retries
// and never reaches the caller.
const redisOutage = 2500 * time.Millisecond

// testRedisRestart stops redis-server with SIGTERM while calls are in
// progress and starts it again on the same port and folder after
// redisOutage. The calls carry on: a webhook that got the apology or an
// error is sent again, as Plivo does, and finds its session intact.
func testRedisRestart(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	apologies, errs0, retries := c.retry.Apologies(), c.retry.Errors(), c.retry.Retries()
	errs := faultLoad(t, cl, 150, 30,
		func(hops int64) bool { return hops >= 150 },
		func(int64) {
			start := time.Now()
			c.redis.Stop()
			time.Sleep(redisOutage)
			c.redis.Start(t)
			t.Logf("redis-server down for %v", time.Since(start).Round(time.Millisecond))
		})
	reportErrors(t, errs)
	a, e, r := c.retry.Apologies()-apologies, c.retry.Errors()-errs0, c.retry.Retries()-retries
	t.Logf("while Redis was down: %d apology answers, %d errors (5xx or connection), %d webhooks sent again", a, e, r)
	if a+e == 0 {
		t.Error("no webhook met the Redis outage: the fault was not exercised")
	}
}

// testReplicaKilled kills the second replica with SIGKILL while calls are
// in progress; the proxy sends its share to the others. Then the replica
// starts again and serves again.
func testReplicaKilled(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	victim := 1
	r := c.replicas[victim]
	served0 := c.proxy.Served()[victim]
	failovers0, failed0 := c.proxy.Failovers(), c.proxy.Failed()
	errs := faultLoad(t, cl, 150, 30,
		func(hops int64) bool { return hops >= 150 && c.proxy.Served()[victim]-served0 >= 20 },
		func(int64) {
			r.kill()
			t.Logf("%s killed with SIGKILL after serving %d requests of this load", r.Name, c.proxy.Served()[victim]-served0)
		})
	reportErrors(t, errs)
	fo, fd := c.proxy.Failovers()-failovers0, c.proxy.Failed()-failed0
	t.Logf("proxy: %d requests failed over to the next replica, %d got 502", fo, fd)
	if fo == 0 {
		t.Error("no request failed over: the killed replica was never tried")
	}

	// The replica comes back and takes its share again.
	r.start(t)
	served1 := c.proxy.Served()[victim]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, errs = runMany(ctx, cl, cl.All, 4, nil, nil)
	reportErrors(t, errs)
	if c.proxy.Served()[victim] == served1 {
		t.Errorf("%s serves nothing after its restart", r.Name)
	}
	if t.Failed() {
		fmt.Fprintln(os.Stderr, tail(r.LogPath, 20))
	}
}

// testConcurrentEvents sends 50 MultiPartyCall status events for one
// call at once, spread over the replicas, as Plivo does when several
// participants change state together. Every event answered 204 must be
// in the trace.
//
// Known bug: the event handler stores the session with its step
// unchanged, and the store's compare-and-set compares only the step, so
// two events (or an event and a callback or hangup) that load the same
// session both succeed and the last write drops the other's event.
func testConcurrentEvents(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	ctx := context.Background()
	w, err := cl.RunTo(ctx, scenarios.Catalog()[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	id := w.Call.UUID
	const n = 50
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	codes := make([]int, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim := &plivosim.Sim{Client: &http.Client{Transport: pinned{c.replicas[i%len(c.replicas)].Addr, tr}}, AuthToken: authToken}
			p := url.Values{"CallUUID": {id}, "EventName": {"ParticipantJoined"}, "Seq": {fmt.Sprint(i)}}
			<-gate
			resp, err := sim.Do(ctx, plivosim.Request{Method: http.MethodPost, URL: c.proxyURL + "/flows/ivr/events/" + id + "/menu/status", Params: p})
			if err == nil {
				codes[i] = resp.Status
			}
		}()
	}
	close(gate)
	wg.Wait()
	acked := 0
	for _, code := range codes {
		if code == http.StatusNoContent {
			acked++
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.proxyURL+"/v1/calls/"+id, nil)
	resp, err := c.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil {
		t.Fatal(err)
	}
	if len(sess.Events) != acked {
		t.Errorf("%d events answered 204 but the trace keeps %d: %d events lost", acked, len(sess.Events), acked-len(sess.Events))
	}
}

// testHangupDuringOutage posts a call's hangup while redis-server is
// down, once, as Plivo would, then checks the call after Redis is back.
//
// Known bug: flowd answers a hangup it could not store with 200 and its
// apology XML (meant for a caller who is still on the line), so Plivo
// takes the hangup as delivered and never sends it again: the session
// stays live until --session-ttl (12 h by default) and
// flowd_sessions_live counts it. A 5xx (as the event handler answers)
// would make Plivo retry.
func testHangupDuringOutage(t *testing.T, c *testCluster, cl *scenarios.Caller) {
	ctx := context.Background()
	w, err := cl.RunTo(ctx, scenarios.Catalog()[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	once := &plivosim.Sim{Client: &http.Client{Timeout: 10 * time.Second}, AuthToken: authToken} // no retries
	p := url.Values{"CallUUID": {w.Call.UUID}, "Event": {"Hangup"}, "CallStatus": {"completed"}, "HangupCause": {"NORMAL_CLEARING"}}
	c.redis.Stop()
	resp, err := once.Do(ctx, plivosim.Request{Method: http.MethodPost, URL: c.proxyURL + "/flows/ivr/hangup", Params: p})
	c.redis.Start(t)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status/100 == 2 {
		tr, err := cl.Trace(ctx, w.Call.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != "hung-up" {
			t.Errorf("the hangup was answered %d %q while Redis was down, so Plivo will not send it again, and the call stays %q", resp.Status, resp.Body, tr.Status)
		}
	}
}
