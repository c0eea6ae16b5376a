// Command soak drives thousands of concurrent simulated calls through
// flowd replicas and checks every one of them. It hosts a round-robin
// reverse proxy in front of the replicas (the load balancer: each request
// goes to the next replica, and to the one after it when a replica cannot
// be reached), plays Plivo with internal/plivosim against the proxy
// (retrying a failed webhook as Plivo does), walks realistic paths
// through the example flows, and reads each finished call's trace back
// from /v1/calls/{id} to check its path and status. The proxy and the
// retries are internal/cluster's, the scenarios and the checks
// internal/scenarios', all shared with the e2e tests.
//
// scripts/soak.sh builds flowd, starts redis-server and the replicas
// (flowd serve --store redis://... --public-url http://<listen>
// --param crm_url=http://<crm-listen>/api --param crm_token=<crm-token>)
// on free ports and runs this program:
//
//	soak -listen 127.0.0.1:PORT -upstreams 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 \
//	     -pids PID1,PID2,PID3 -crm-listen 127.0.0.1:CRMPORT -crm-token TOKEN \
//	     -calls 2000 -concurrency 200 -duration 2m
//
// With -crm-listen it serves the fake CRM that crm-routing's look-ups
// reach (internal/scenarios' CRM: it answers by the caller's number, and
// only with the Bearer token -crm-token), and checks that its /healthz
// there answers from this process; without it, crm-routing's calls are
// not made, as the replicas would look their callers up elsewhere.
//
// Before the first call it checks that each replica answers /healthz from
// the process given by -pids (not another server that had the port), and
// that the proxy reaches them: /healthz asked through the proxy must be
// answered by one of those replicas.
//
// It reports calls started, completed and failed, calls lost or corrupted
// (a trace that does not show the expected path and status), webhook
// throughput and the latency percentiles of webhooks as Plivo sees them
// (retries included), and exits 1 when any call failed.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowd-dev/flowd/internal/cluster"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/scenarios"
)

func main() {
	listen := flag.String("listen", "", "where the proxy listens, 127.0.0.1:PORT (required): the replicas' --public-url must point here")
	upstreams := flag.String("upstreams", "", "the replicas' addresses, comma-separated (required)")
	pids := flag.String("pids", "", "the replicas' process IDs, comma-separated, in the order of -upstreams: each replica must answer /healthz from its own (default: any process)")
	calls := flag.Int("calls", 2000, "calls to make")
	concurrency := flag.Int("concurrency", 200, "calls in progress at once")
	duration := flag.Duration("duration", 2*time.Minute, "stop starting calls after this long")
	grace := flag.Duration("grace", 30*time.Second, "how long calls in progress may take to finish after -duration")
	think := flag.Duration("think", 0, "the caller's longest pause before each event (uniform from 0); 0: none")
	flows := flag.String("flows", "", "only these flows, comma-separated (default: every example flow)")
	token := flag.String("auth-token", os.Getenv("PLIVO_AUTH_TOKEN"), "sign webhooks with this Plivo auth token (default $PLIVO_AUTH_TOKEN)")
	apiToken := flag.String("api-token", os.Getenv("FLOWD_API_TOKEN"), "the replicas' FLOWD_API_TOKEN, to read traces from /v1 (default $FLOWD_API_TOKEN)")
	verify := flag.Bool("verify", true, "read each finished call's trace from /v1/calls and check it")
	maxErrors := flag.Int("show-errors", 10, "print at most this many errors")
	crmListen := flag.String("crm-listen", "", "serve the fake CRM of crm-routing here, 127.0.0.1:PORT: the replicas' --param crm_url must be http://<crm-listen>/api (default: no CRM, and no crm-routing calls)")
	crmToken := flag.String("crm-token", scenarios.CRMDefaultToken, "the Bearer token the fake CRM requires: the replicas' crm_token")
	flag.Parse()
	if *listen == "" || *upstreams == "" || *calls <= 0 || *concurrency <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ups := strings.Split(*upstreams, ",")
	upPIDs := make([]int, len(ups))
	if *pids != "" {
		fs := strings.Split(*pids, ",")
		for i, f := range fs {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 || len(fs) != len(ups) {
				fmt.Fprintf(os.Stderr, "soak: -pids %q: want one process ID per upstream\n", *pids)
				os.Exit(2)
			}
			upPIDs[i] = n
		}
	}
	os.Exit(run(config{
		listen: *listen, upstreams: ups, pids: upPIDs, calls: *calls, concurrency: *concurrency,
		duration: *duration, grace: *grace, think: *think, flows: *flows, token: *token, apiToken: *apiToken,
		verify: *verify, maxErrors: *maxErrors, crmListen: *crmListen, crmToken: *crmToken,
	}))
}

type config struct {
	listen                 string
	upstreams              []string
	pids                   []int // by upstream; 0: any process
	calls, concurrency     int
	duration, grace        time.Duration
	think                  time.Duration
	flows, token, apiToken string
	verify                 bool
	maxErrors              int
	crmListen, crmToken    string
}

func run(cfg config) int {
	all := scenarios.Catalog()
	if cfg.flows != "" {
		keep := strings.Split(cfg.flows, ",")
		all = slices.DeleteFunc(all, func(s scenarios.Scenario) bool { return !slices.Contains(keep, s.Flow) })
		if len(all) == 0 {
			fmt.Fprintf(os.Stderr, "soak: no scenario for flows %s\n", cfg.flows)
			return 2
		}
	}

	// The fake CRM of crm-routing: without one, its calls are not made
	// (the replicas would send their look-ups to the network).
	var crm *scenarios.CRM
	if cfg.crmListen != "" {
		crm = scenarios.NewCRM(cfg.crmToken)
		cln, err := net.Listen("tcp", cfg.crmListen)
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: the fake CRM: %v\n", err)
			return 2
		}
		cs := &http.Server{Handler: crm, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = cs.Serve(cln) }()
		defer cs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = scenarios.CheckCRM(ctx, "http://"+cln.Addr().String(), os.Getpid())
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: %v\n", err)
			return 2
		}
		fmt.Printf("soak: fake CRM on %s (pid %d): the replicas' crm_url must be http://%s/api\n", cln.Addr(), os.Getpid(), cln.Addr())
	} else {
		n := len(all)
		all = slices.DeleteFunc(all, func(s scenarios.Scenario) bool { return s.Flow == "crm-routing" })
		if n != len(all) {
			fmt.Println("soak: no -crm-listen: crm-routing's calls are not made")
		}
		if len(all) == 0 {
			fmt.Fprintln(os.Stderr, "soak: no scenario left to run without -crm-listen")
			return 2
		}
	}

	// The proxy.
	proxy := cluster.NewProxy(cfg.upstreams, cluster.Pool{
		MaxIdleConns: cfg.concurrency * 2 * len(cfg.upstreams), MaxIdleConnsPerHost: cfg.concurrency * 2, IdleConnTimeout: 60 * time.Second,
	})
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}
	hs := &http.Server{Handler: proxy.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	if err := checkReplicas(cfg, ln.Addr().String()); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}

	// Plivo.
	lat := &latencies{}
	hooks := &cluster.Retry{Next: &http.Transport{
		MaxIdleConns: cfg.concurrency * 2, MaxIdleConnsPerHost: cfg.concurrency * 2, IdleConnTimeout: 60 * time.Second,
	}, Observe: func(req *http.Request, d time.Duration) { lat.add(webhookKind(req.URL.Path), d) }}
	apiRetry := &cluster.Retry{Next: hooks.Next, Bearer: cfg.apiToken}
	cl := &scenarios.Caller{
		Sim:  &plivosim.Sim{Client: &http.Client{Transport: hooks, Timeout: 30 * time.Second}, AuthToken: cfg.token},
		API:  &http.Client{Transport: apiRetry, Timeout: 30 * time.Second},
		Base: base, All: all, NoVerify: !cfg.verify,
	}
	if cfg.think > 0 {
		cl.Think = func() time.Duration { return rand.N(cfg.think) }
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
				res, err := cl.Run(ctx, sc, i/len(all))
				mu.Lock()
				switch {
				case err == nil:
					completed.Add(1)
					ran[res.Scenario.Flow+"/"+res.Scenario.Name]++
				case errors.Is(err, scenarios.ErrTrace):
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
		n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(completed.Load())/elapsed.Seconds(), hooks.Retries(), hooks.Apologies())
	fmt.Printf("proxy:     %d requests failed over to the next replica, %d answered 502 (no replica)\n", proxy.Failovers(), proxy.Failed())
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
	served := proxy.Served()
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
	crmBad := int64(0)
	if crm != nil {
		crmBad = crm.Unauthorized()
		fmt.Printf("fake CRM: %d look-ups, %d without the token\n", crm.Requests(), crmBad)
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
	if crmBad > 0 {
		fmt.Printf("RESULT: FAIL: the fake CRM got %d look-ups without the replicas' crm_token\n", crmBad)
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

// metricsClient reads the replicas' /metrics.
var metricsClient = &http.Client{Timeout: 10 * time.Second}

func replicaMetrics(ups []string) []replicaStats {
	out := make([]replicaStats, len(ups))
	for i, u := range ups {
		out[i] = replicaStats{-1, -1, -1}
		resp, err := metricsClient.Get("http://" + u + "/metrics")
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

// checkReplicas waits up to 20 s until every replica answers /healthz,
// each from its process in cfg.pids (when given), then asks /healthz
// through the proxy at proxyAddr: one of the replicas must answer.
func checkReplicas(cfg config, proxyAddr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	instances := map[string]string{} // instance → replica
	for i, u := range cfg.upstreams {
		h, err := cluster.WaitHealthy(ctx, nil, u, cfg.pids[i])
		if err != nil {
			return fmt.Errorf("replica: %w", err) // err names the address
		}
		if other, ok := instances[h.Instance]; ok {
			return fmt.Errorf("replicas %s and %s are one flowd (instance %s, pid %d)", other, u, h.Instance, h.PID)
		}
		instances[h.Instance] = u
		fmt.Printf("soak: replica %s: pid %d, instance %s\n", u, h.PID, h.Instance)
	}
	h, err := cluster.CheckHealth(ctx, nil, proxyAddr)
	if err != nil {
		return fmt.Errorf("the proxy on %s: %w", proxyAddr, err)
	}
	if _, ok := instances[h.Instance]; !ok {
		return fmt.Errorf("the proxy on %s: /healthz answered by pid %d, instance %s: not one of the replicas", proxyAddr, h.PID, h.Instance)
	}
	fmt.Printf("soak: proxy on %s (pid %d) reaches the replicas\n", proxyAddr, os.Getpid())
	return nil
}
