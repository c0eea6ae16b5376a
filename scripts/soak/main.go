// Command soak drives thousands of concurrent simulated calls through
// flowd replicas and checks every one of them. It hosts a round-robin
// reverse proxy in front of the replicas (the load balancer: each request
// goes to the next replica, and to the one after it when a replica cannot
// be reached), plays Plivo with internal/plivosim against the proxy
// (retrying a failed webhook as Plivo does), walks realistic paths
// through the example flows, and reads each finished call's trace back
// from /v1/calls/{id} to check its path and status.
//
// scripts/soak.sh builds flowd, starts redis-server and the replicas
// (flowd serve --store redis://... --public-url http://<listen>) and runs
// this program:
//
//	soak -listen 127.0.0.1:18200 -upstreams 127.0.0.1:18201,127.0.0.1:18202,127.0.0.1:18203 \
//	     -calls 2000 -concurrency 200 -duration 2m
//
// It reports calls started, completed and failed, calls lost or corrupted
// (a trace that does not show the expected path and status), webhook
// throughput and the latency percentiles of webhooks as Plivo sees them
// (retries included), and exits 1 when any call failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18200", "where the proxy listens: the replicas' --public-url must point here")
	upstreams := flag.String("upstreams", "", "the replicas' addresses, comma-separated (required)")
	calls := flag.Int("calls", 2000, "calls to make")
	concurrency := flag.Int("concurrency", 200, "calls in progress at once")
	duration := flag.Duration("duration", 2*time.Minute, "stop starting calls after this long")
	grace := flag.Duration("grace", 30*time.Second, "how long calls in progress may take to finish after -duration")
	think := flag.Duration("think", 0, "the caller's longest pause before each event (uniform from 0); 0: none")
	flows := flag.String("flows", "", "only these flows, comma-separated (default: every example flow)")
	token := flag.String("auth-token", os.Getenv("PLIVO_AUTH_TOKEN"), "sign webhooks with this Plivo auth token (default $PLIVO_AUTH_TOKEN)")
	verify := flag.Bool("verify", true, "read each finished call's trace from /v1/calls and check it")
	maxErrors := flag.Int("show-errors", 10, "print at most this many errors")
	flag.Parse()
	if *upstreams == "" || *calls <= 0 || *concurrency <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ups := strings.Split(*upstreams, ",")
	os.Exit(run(config{
		listen: *listen, upstreams: ups, calls: *calls, concurrency: *concurrency,
		duration: *duration, grace: *grace, think: *think, flows: *flows, token: *token,
		verify: *verify, maxErrors: *maxErrors,
	}))
}

type config struct {
	listen             string
	upstreams          []string
	calls, concurrency int
	duration, grace    time.Duration
	think              time.Duration
	flows, token       string
	verify             bool
	maxErrors          int
}

func run(cfg config) int {
	all := catalog()
	if cfg.flows != "" {
		keep := strings.Split(cfg.flows, ",")
		all = slices.DeleteFunc(all, func(s scenario) bool { return !slices.Contains(keep, s.Flow) })
		if len(all) == 0 {
			fmt.Fprintf(os.Stderr, "soak: no scenario for flows %s\n", cfg.flows)
			return 2
		}
	}

	// The proxy.
	proxy := newProxy(cfg.upstreams, cfg.concurrency)
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}
	hs := &http.Server{Handler: proxy.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	for _, u := range cfg.upstreams {
		if err := waitHealthy(u, 20*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "soak: replica %s: %v\n", u, err)
			return 2
		}
	}

	// Plivo.
	lat := &latencies{}
	hooks := &plivoRetry{next: &http.Transport{
		MaxIdleConns: cfg.concurrency * 2, MaxIdleConnsPerHost: cfg.concurrency * 2, IdleConnTimeout: 60 * time.Second,
	}, observe: lat.add}
	apiRetry := &plivoRetry{next: hooks.next}
	cl := &caller{
		sim:  &plivosim.Sim{Client: &http.Client{Transport: hooks, Timeout: 30 * time.Second}, AuthToken: cfg.token},
		api:  &http.Client{Transport: apiRetry, Timeout: 30 * time.Second},
		base: base, all: all, verifyTraces: cfg.verify,
	}
	if cfg.think > 0 {
		cl.think = func() time.Duration { return rand.N(cfg.think) }
	}
	before := replicaMetrics(cfg.upstreams)

	fmt.Printf("soak: %d calls, %d at a time, at most %v, through the proxy on %s to %d replicas (%s)\n",
		cfg.calls, cfg.concurrency, cfg.duration, base, len(cfg.upstreams), strings.Join(cfg.upstreams, ", "))
	if cfg.think > 0 {
		fmt.Printf("soak: callers pause up to %v before each event\n", cfg.think)
	}
	stopStarting := time.Now().Add(cfg.duration)
	ctx, cancel := context.WithDeadline(context.Background(), stopStarting.Add(cfg.grace))
	defer cancel()

	var (
		next                       atomic.Int64
		started, completed         atomic.Int64
		failed, corrupted, stopped atomic.Int64
		mu                         sync.Mutex
		errs                       []error
		ran                        = map[string]int{}
		wg                         sync.WaitGroup
	)
	progressDone := make(chan struct{})
	t0 := time.Now()
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				fmt.Printf("  %5.1fs: %d calls started, %d completed, %d failed, %d webhooks\n",
					time.Since(t0).Seconds(), started.Load(), completed.Load(), failed.Load()+corrupted.Load(), lat.count())
			}
		}
	}()
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.calls {
					return
				}
				if time.Now().After(stopStarting) || ctx.Err() != nil {
					stopped.Add(1)
					continue
				}
				started.Add(1)
				sc := all[i%len(all)]
				res, err := cl.run(ctx, sc, i/len(all))
				mu.Lock()
				switch {
				case err == nil:
					completed.Add(1)
					ran[res.Scenario.Flow+"/"+res.Scenario.Name]++
				case errors.Is(err, errTrace):
					corrupted.Add(1)
					errs = append(errs, err)
				default:
					failed.Add(1)
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(progressDone)
	after := replicaMetrics(cfg.upstreams)

	// The report.
	fmt.Println()
	fmt.Printf("calls:     %d started, %d completed, %d failed (errors), %d lost or corrupted (trace check), %d not started (-duration)\n",
		started.Load(), completed.Load(), failed.Load(), corrupted.Load(), stopped.Load())
	n := lat.count()
	fmt.Printf("webhooks:  %d in %.2f s = %.0f webhooks/s (%.0f calls/s); %d sent again (Plivo retries), %d apology answers\n",
		n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(completed.Load())/elapsed.Seconds(), hooks.retries.Load(), hooks.apologies.Load())
	fmt.Printf("proxy:     %d requests failed over to the next replica, %d answered 502 (no replica)\n", proxy.failovers.Load(), proxy.failed.Load())
	fmt.Println("latency of a webhook as Plivo sees it (through the proxy, retries included), ms:")
	fmt.Printf("  %-9s %7s %8s %8s %8s %8s %8s\n", "", "n", "p50", "p90", "p99", "p99.9", "max")
	for _, kind := range []string{"all", "answer", "callback", "hangup"} {
		s := lat.sorted(kind)
		if len(s) == 0 {
			continue
		}
		fmt.Printf("  %-9s %7d %8.2f %8.2f %8.2f %8.2f %8.2f\n", kind, len(s), ms(pct(s, 50)), ms(pct(s, 90)), ms(pct(s, 99)), ms(pct(s, 99.9)), ms(s[len(s)-1]))
	}
	fmt.Println("replicas (requests from the proxy; flowd_webhooks_total during the run; store errors):")
	served := proxy.served()
	for i, u := range cfg.upstreams {
		if after[i].webhooks < 0 || before[i].webhooks < 0 {
			fmt.Printf("  %-21s %7d requests  (down at the end: no metrics)\n", u, served[i])
			continue
		}
		fmt.Printf("  %-21s %7d requests  %7.0f webhooks  %4.0f store errors\n", u, served[i],
			after[i].webhooks-before[i].webhooks, after[i].storeErrors-before[i].storeErrors)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("this program (simulator, proxy, trace checks) used %.2f s of CPU\n", cpu.Seconds())
	}
	for _, a := range after {
		if a.live < 0 {
			continue
		}
		fmt.Printf("sessions live in the store after the run (flowd_sessions_live): %.0f\n", a.live)
		break
	}
	names := make([]string, 0, len(ran))
	for k := range ran {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Print("completed by scenario:")
	for i, k := range names {
		if i%4 == 0 {
			fmt.Print("\n ")
		}
		fmt.Printf(" %s=%d", k, ran[k])
	}
	fmt.Println()
	for i, err := range errs {
		if i == cfg.maxErrors {
			fmt.Printf("... and %d more errors\n", len(errs)-i)
			break
		}
		fmt.Println("ERROR:", err)
	}
	bad := failed.Load() + corrupted.Load()
	if bad > 0 || completed.Load() == 0 {
		fmt.Printf("RESULT: FAIL: %d of %d calls failed or were lost\n", bad, started.Load())
		return 1
	}
	fmt.Printf("RESULT: PASS: %d calls completed and checked, 0 errors\n", completed.Load())
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the p-th percentile of sorted samples (nearest rank).
func pct(s []time.Duration, p float64) time.Duration {
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// latencies collects webhook latencies by kind.
type latencies struct {
	mu sync.Mutex
	by map[string][]time.Duration
	n  int
}

func (l *latencies) add(kind string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string][]time.Duration{}
	}
	l.by[kind] = append(l.by[kind], d)
	l.n++
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *latencies) sorted(kind string) []time.Duration {
	l.mu.Lock()
	var s []time.Duration
	if kind == "all" {
		for _, v := range l.by {
			s = append(s, v...)
		}
	} else {
		s = slices.Clone(l.by[kind])
	}
	l.mu.Unlock()
	slices.Sort(s)
	return s
}

// webhookKind names a webhook from its path: /flows/F/answer, /hangup,
// /calls/..., /events/...
func webhookKind(path string) string {
	switch {
	case strings.HasSuffix(path, "/answer"):
		return "answer"
	case strings.HasSuffix(path, "/hangup"):
		return "hangup"
	case strings.Contains(path, "/calls/"):
		return "callback"
	}
	return "other"
}

// replicaStats are a replica's counters of interest.
type replicaStats struct{ webhooks, storeErrors, live float64 }

func replicaMetrics(ups []string) []replicaStats {
	out := make([]replicaStats, len(ups))
	for i, u := range ups {
		out[i] = replicaStats{-1, -1, -1}
		resp, err := http.Get("http://" + u + "/metrics")
		if err != nil {
			continue
		}
		out[i] = replicaStats{}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			if len(f) < 2 || strings.HasPrefix(line, "#") {
				continue
			}
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				continue
			}
			switch {
			case strings.HasPrefix(line, "flowd_webhooks_total"):
				out[i].webhooks += v
			case strings.HasPrefix(line, "flowd_errors_total") && strings.Contains(line, `kind="store"`):
				out[i].storeErrors += v
			case strings.HasPrefix(line, "flowd_sessions_live"):
				out[i].live = v
			}
		}
		resp.Body.Close()
	}
	return out
}

func waitHealthy(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/healthz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------
// The load balancer

// lbProxy is a round-robin reverse proxy: each request goes to the next
// replica in turn, and to the one after it when a replica cannot be
// reached or drops the connection (the request is buffered so it can be
// sent again; flowd answers a webhook it already answered with the same
// XML, so resending is safe).
type lbProxy struct {
	ups       []string
	tr        *http.Transport
	next      atomic.Uint64
	hits      []atomic.Int64
	failovers atomic.Int64
	failed    atomic.Int64
}

func newProxy(ups []string, conns int) *lbProxy {
	return &lbProxy{
		ups:  ups,
		hits: make([]atomic.Int64, len(ups)),
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2 * len(ups),
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     60 * time.Second,
		},
	}
}

func (p *lbProxy) handler() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica"
			pr.Out.Host = pr.In.Host
		},
		Transport: p,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.failed.Add(1)
			http.Error(w, "proxy: no replica answered: "+err.Error(), http.StatusBadGateway)
		},
	}
}

func (p *lbProxy) served() []int64 {
	out := make([]int64, len(p.hits))
	for i := range p.hits {
		out[i] = p.hits[i].Load()
	}
	return out
}

// RoundTrip sends the request to the replicas in turn until one answers.
func (p *lbProxy) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	start := int(p.next.Add(1) - 1)
	var last error
	for k := range p.ups {
		i := (start + k) % len(p.ups)
		out := req.Clone(req.Context())
		out.URL.Host = p.ups[i]
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := p.tr.RoundTrip(out)
		if err == nil {
			p.hits[i].Add(1)
			return resp, nil
		}
		last = err
		if req.Context().Err() != nil {
			break
		}
		p.failovers.Add(1)
	}
	return nil, last
}

// ---------------------------------------------------------------------
// Plivo's retries

// apologyXML is what flowd answers a known call when its store fails.
var apologyXML = []byte(`<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`)

// plivoRetry resends a webhook that failed, as Plivo does: on a
// connection error, a 5xx answer, or flowd's apology XML (a real call
// would hear it and end; the simulated caller tries again so the call can
// be checked to its end). Backoff from 25 ms, doubling, at most 800 ms; 10
// attempts. observe gets each webhook's latency, retries included.
type plivoRetry struct {
	next      http.RoundTripper
	observe   func(kind string, d time.Duration)
	retries   atomic.Int64
	apologies atomic.Int64
}

func (p *plivoRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	t0 := time.Now()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	delay := 25 * time.Millisecond
	for a := 1; ; a++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := p.next.RoundTrip(r)
		retry := err != nil
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			switch {
			case rerr != nil:
				retry, err, resp = true, rerr, nil
			case resp.StatusCode >= 500:
				retry = true
			case resp.StatusCode == http.StatusOK && bytes.Equal(b, apologyXML):
				retry = true
				p.apologies.Add(1)
			}
		}
		if !retry || a >= 10 || req.Context().Err() != nil {
			if p.observe != nil && err == nil {
				p.observe(webhookKind(req.URL.Path), time.Since(t0))
			}
			return resp, err
		}
		p.retries.Add(1)
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 800*time.Millisecond)
	}
}

// ---------------------------------------------------------------------
// Scenarios: calls walked through the example flows. The same catalog as
// e2e/helpers_test.go.

// step is one webhook of a call and what it must do.
type step struct {
	Event string     // answer, press, say, noinput, dial, record, exit, hangup
	Arg   string     // the digits, speech or DialStatus
	Paths [][]string // the nodes the step may walk (trace path), alternatives
	Wait  string     // the node the call then waits at; "" once the flow ended
}

// st makes a step: ev is "press 1", "dial busy", "noinput", ...; paths
// is node lists separated by " | ".
func st(ev, wait, paths string) step {
	e, arg, _ := strings.Cut(ev, " ")
	s := step{Event: e, Arg: arg, Wait: wait}
	if paths != "" {
		for _, p := range strings.Split(paths, "|") {
			s.Paths = append(s.Paths, strings.Fields(p))
		}
	}
	return s
}

// scenario is one call through a flow, from the answer to the end.
type scenario struct {
	Flow, Name string
	Vars       map[string]any    // initial vars, in the answer URL
	Call       map[string]string // call parameters
	Steps      []step            // Steps[0] is the answer
}

// catalog walks every example flow. The flows run without Plivo REST
// credentials, so their REST actions take their error edges, and with
// the real clock, so business-hours and contact-center take their open
// or closed branch: scenarios whose answer waits elsewhere are
// alternatives, chosen by where the answer waits.
func catalog() []scenario {
	cb := map[string]any{"ticket": 4521, "agent": "sip:alice@phone.plivo.com"}
	outbound := map[string]string{"Direction": "outbound", "From": "+14155550199", "To": "+14155550100"}
	return []scenario{
		{Flow: "ivr", Name: "sales", Call: map[string]string{"From": "+14155550100", "To": "+14155550199"}, Steps: []step{
			st("answer", "menu", "greet menu"),
			st("press 1", "sales", "route sales"),
			st("dial completed", "", "goodbye hangup"),
		}},
		{Flow: "ivr", Name: "support-no-answer", Steps: []step{
			st("answer", "menu", "greet menu"),
			st("press 2", "support", "route support"),
			st("dial no-answer", "", "sorry goodbye hangup"),
		}},
		{Flow: "ivr", Name: "three-failures", Steps: []step{
			st("answer", "menu", "greet menu"),
			st("noinput", "menu", "retry too_many invalid menu"),
			st("press 5", "menu", "route retry too_many invalid menu"),
			st("noinput", "", "retry too_many goodbye hangup"),
		}},
		{Flow: "ivr", Name: "menu-again-then-busy", Steps: []step{
			st("answer", "menu", "greet menu"),
			st("press 9", "menu", "route menu"),
			st("press 1", "sales", "route sales"),
			st("dial busy", "", "sorry goodbye hangup"),
		}},
		{Flow: "ivr", Name: "hangs-up-in-menu", Steps: []step{
			st("answer", "menu", "greet menu"),
			st("hangup", "", ""),
		}},

		{Flow: "business-hours", Name: "open-agent-answers", Steps: []step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial completed", "", "goodbye hangup"),
		}},
		{Flow: "business-hours", Name: "open-busy-voicemail", Steps: []step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial busy", "voicemail", "agent_busy voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "open-no-answer-voicemail", Steps: []step{
			st("answer", "ring_agent", "check_hours connecting ring_agent"),
			st("dial no-answer", "voicemail", "agent_away voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "closed-voicemail", Steps: []step{
			st("answer", "voicemail", "check_hours closed closed_reason voicemail_prompt voicemail"),
			st("record", "", "confirm_sms thanks hangup"),
		}},
		{Flow: "business-hours", Name: "closed-hangs-up", Steps: []step{
			st("answer", "voicemail", "check_hours closed closed_reason voicemail_prompt voicemail"),
			st("hangup", "", ""),
		}},

		{Flow: "conference-bridge", Name: "host", Steps: []step{
			st("answer", "ask_pin", "ask_pin"),
			st("press 7351", "host_joins", "check_pin host_joins"),
			st("exit", "", "host_left hangup"),
		}},
		{Flow: "conference-bridge", Name: "guest", Steps: []step{
			st("answer", "ask_pin", "ask_pin"),
			st("press 2468", "guest_joins", "check_pin guest_joins"),
			st("exit", "", "guest_left hangup"),
		}},
		{Flow: "conference-bridge", Name: "locked-out", Steps: []step{
			st("answer", "ask_pin", "ask_pin"),
			st("press 1111", "ask_pin", "check_pin wrong_pin too_many try_again ask_pin"),
			st("noinput", "ask_pin", "wrong_pin too_many try_again ask_pin"),
			st("press 0000", "", "check_pin wrong_pin too_many locked_out hangup"),
		}},

		{Flow: "contact-center", Name: "voicemail", Steps: []step{
			// Open: ring_agents fails without REST credentials.
			st("answer", "voicemail", "greet open voicemail | greet open ring_agents voicemail"),
			st("record", "", "goodbye hangup"),
		}},

		{Flow: "contact-center-callback", Name: "takes-callback", Vars: cb, Call: outbound, Steps: []step{
			st("answer", "consent", "consent"),
			st("press 1", "", "decide dial_agent later goodbye hangup"), // no REST credentials
		}},
		{Flow: "contact-center-callback", Name: "another-time", Vars: cb, Call: outbound, Steps: []step{
			st("answer", "consent", "consent"),
			st("press 2", "", "decide later goodbye hangup"),
		}},
		{Flow: "contact-center-callback", Name: "no-answer", Vars: cb, Call: outbound, Steps: []step{
			st("answer", "consent", "consent"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "contact-center-supervisor", Name: "coach-and-control", Steps: []step{
			st("answer", "ask_room", "ask_room"),
			st("press 4521", "join", "join"),
			st("exit", "control", "control"),
			st("press 5", "control", "choose hold failed control"),
			st("press 6", "control", "choose resume failed control"),
			st("press 1", "join", "choose join"),
			st("exit", "control", "control"),
			st("press 7", "control", "choose control"),
			st("press 9", "control", "choose end_room failed control"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "contact-center-supervisor", Name: "no-room", Steps: []step{
			st("answer", "ask_room", "ask_room"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "preanswer-stream", Name: "hand-off", Steps: []step{
			st("answer", "", "early_media bot send_extension settle hand_off"),
		}},

		{Flow: "support-agent", Name: "two-calls", Steps: []step{
			st("answer", "ask_queue", "which_queue ask_queue"),
			st("press 2", "join", "queue_from_keypad join"),
			st("exit", "next_caller", "wrap_up next_caller"),
			st("press 1", "join", "join"),
			st("exit", "next_caller", "wrap_up next_caller"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "support-agent", Name: "two-silences", Steps: []step{
			st("answer", "ask_queue", "which_queue ask_queue"),
			st("noinput", "ask_queue", "no_entry give_up ask_queue"),
			st("noinput", "", "no_entry give_up goodbye hangup"),
		}},

		{Flow: "support-queue", Name: "billing-rated", Steps: []step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("press 1", "join_queue", "pick_queue announce join_queue"),
			st("exit", "rate_call", "rate_call"),
			st("press 5", "", "save_rating thanks goodbye hangup"),
		}},
		{Flow: "support-queue", Name: "tech-no-rating", Steps: []step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("press 2", "join_queue", "pick_queue announce join_queue"),
			st("exit", "rate_call", "rate_call"),
			st("noinput", "", "goodbye hangup"),
		}},
		{Flow: "support-queue", Name: "default-queue-hangs-up", Steps: []step{
			st("answer", "choose_queue", "welcome choose_queue"),
			st("noinput", "join_queue", "default_queue announce join_queue"),
			st("hangup", "", ""),
		}},

		{Flow: "support-supervisor", Name: "listen", Steps: []step{
			st("answer", "ask_queue", "ask_queue"),
			st("press 2", "ask_mode", "ask_mode"),
			st("press 1", "join", "pick_mode join"),
			st("exit", "", "left goodbye hangup"),
		}},
		{Flow: "support-supervisor", Name: "default-mode", Steps: []step{
			st("answer", "ask_queue", "ask_queue"),
			st("press 1", "ask_mode", "ask_mode"),
			st("noinput", "join", "join"),
			st("exit", "", "left goodbye hangup"),
		}},
		{Flow: "support-supervisor", Name: "no-queue", Steps: []step{
			st("answer", "ask_queue", "ask_queue"),
			st("noinput", "", "goodbye hangup"),
		}},

		{Flow: "survey", Name: "by-voice", Steps: []step{
			st("answer", "q1", "intro q1"),
			st("say Yes, it was great.", "q2", "q1_answer q1_yes q2"),
			st("say Four.", "", "q2_answer q2_check q2_counted closing hangup"),
		}},
		{Flow: "survey", Name: "keypad", Steps: []step{
			st("answer", "q1", "intro q1"),
			st("noinput", "q1_keypad", "q1_keypad"),
			st("press 2", "q2", "q1_answer q1_no q2"),
			st("press 5", "", "q2_answer q2_check q2_counted closing hangup"),
		}},
		{Flow: "survey", Name: "unclear", Steps: []step{
			st("answer", "q1", "intro q1"),
			st("say maybe", "q2", "q1_answer q1_unclear q2"),
			st("say purple", "", "q2_answer q2_check q2_unclear closing hangup"),
		}},
		{Flow: "survey", Name: "silence", Steps: []step{
			st("answer", "q1", "intro q1"),
			st("noinput", "q1_keypad", "q1_keypad"),
			st("noinput", "q2", "q2"),
			st("noinput", "", "closing hangup"),
		}},
	}
}

// alternatives returns the scenarios that start like sc (same flow, vars
// and call parameters) and whose answer waits at node.
func alternatives(all []scenario, sc scenario, node string) []scenario {
	var out []scenario
	for _, x := range all {
		if x.Flow == sc.Flow && fmt.Sprint(x.Vars) == fmt.Sprint(sc.Vars) && fmt.Sprint(x.Call) == fmt.Sprint(sc.Call) && x.Steps[0].Wait == node {
			out = append(out, x)
		}
	}
	return out
}

// errTrace marks a call whose webhooks all succeeded but whose trace is
// wrong or missing: a lost or corrupted call.
var errTrace = errors.New("trace check failed")

// caller walks scenarios through flowd as Plivo and a caller would.
type caller struct {
	sim          *plivosim.Sim
	api          *http.Client
	base         string               // flowd's public URL (the proxy)
	think        func() time.Duration // the caller's pause before each event
	all          []scenario
	verifyTraces bool
}

// result is one walked call.
type result struct {
	Scenario scenario // the scenario run (an alternative, for the clock)
	CallUUID string
}

// run walks a call through sc (or the alternative its answer leads to),
// hangs up, and checks the call's trace. pick chooses among alternatives.
func (c *caller) run(ctx context.Context, sc scenario, pick int) (result, error) {
	res := result{Scenario: sc}
	u, err := runtime.AnswerURL(c.base, sc.Flow, sc.Vars)
	if err != nil {
		return res, err
	}
	call, err := c.sim.Call(ctx, u, sc.Call)
	if call != nil {
		res.CallUUID = call.UUID
	}
	if err != nil {
		return res, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, res.CallUUID, err)
	}
	id := call.UUID
	call.HangupURL = c.base + "/flows/" + sc.Flow + "/hangup"
	node, err := c.waitNode(sc.Flow, call, 1)
	if err != nil {
		return res, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, id, err)
	}
	if node != sc.Steps[0].Wait {
		alts := alternatives(c.all, sc, node)
		if len(alts) == 0 {
			return res, fmt.Errorf("%s/%s %s: the answer waits at %q, want %q (no alternative scenario does); XML: %s", sc.Flow, sc.Name, id, node, sc.Steps[0].Wait, call.XML())
		}
		sc = alts[pick%len(alts)]
		res.Scenario = sc
	}
	xmls := [][]byte{call.XML()}
	steps := sc.Steps
	for i := 1; i < len(steps); i++ {
		s := steps[i]
		if c.think != nil {
			if d := c.think(); d > 0 {
				select {
				case <-ctx.Done():
					return res, ctx.Err()
				case <-time.After(d):
				}
			}
		}
		where := fmt.Sprintf("%s/%s %s: step %d (%s %s)", sc.Flow, sc.Name, id, i+1, s.Event, s.Arg)
		if err := send(call, s); err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		if s.Event == "hangup" {
			break
		}
		xmls = append(xmls, call.XML())
		node, err := c.waitNode(sc.Flow, call, i+1)
		if err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		if node != s.Wait {
			return res, fmt.Errorf("%s: the call waits at %q, want %q; XML: %s", where, node, s.Wait, call.XML())
		}
	}
	if steps[len(steps)-1].Event != "hangup" {
		if err := call.Hangup(); err != nil {
			return res, fmt.Errorf("%s/%s %s: hangup: %w", sc.Flow, sc.Name, id, err)
		}
		steps = append(slices.Clone(steps), st("hangup", "", ""))
	}
	if c.verifyTraces {
		if err := c.verify(ctx, sc, steps, id, xmls); err != nil {
			return res, fmt.Errorf("%s/%s %s: %w: %w", sc.Flow, sc.Name, id, errTrace, err)
		}
	}
	return res, nil
}

// send sends a step's event.
func send(call *plivosim.Call, s step) error {
	switch s.Event {
	case "press":
		return call.Press(s.Arg)
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
func (c *caller) waitNode(flowName string, call *plivosim.Call, step int) (string, error) {
	w := call.Wait()
	if w.Ended() {
		return "", nil
	}
	rest, ok := strings.CutPrefix(w.URL, c.base+"/flows/"+flowName+"/calls/")
	if !ok {
		if strings.HasPrefix(w.URL, c.base) {
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
	return parts[1], nil
}

// traceJSON is what /v1/calls/{id} answers.
type traceJSON struct {
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
	} `json:"trace"`
}

func (c *caller) getTrace(ctx context.Context, id string) (*traceJSON, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/calls/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.api.Do(req)
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
	var tr traceJSON
	if err := json.Unmarshal(b, &tr); err != nil {
		return nil, err
	}
	return &tr, nil
}

// verify checks a finished call's trace against its steps: one trace step
// per webhook, in order, each with the expected path and the XML the
// simulator received; the call hung up.
func (c *caller) verify(ctx context.Context, sc scenario, steps []step, id string, xmls [][]byte) error {
	tr, err := c.getTrace(ctx, id)
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
		return fmt.Errorf("step %d with %d trace steps, want %d", tr.Step, len(tr.Trace), len(steps))
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
			return fmt.Errorf("trace step %d is step %d webhook %q, want %d %q", i+1, got.Step, got.Webhook, i+1, want)
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
				return fmt.Errorf("trace step %d answered %q but the simulator got %q", i+1, got.XML, xmls[i])
			}
		}
	}
	return nil
}
