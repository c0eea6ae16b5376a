package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

// authToken is the Plivo auth token of the test account: the replicas
// verify every webhook's signature with it, through the proxy.
const authToken = "e2e-auth-token-0123456789"

// apologyXML is what flowd answers a known call when its store fails.
var apologyXML = []byte(`<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`)

// ---------------------------------------------------------------------
// Processes: flowd, redis-server

var (
	buildOnce sync.Once
	flowdBin  string
	buildErr  error
	buildDir  string
)

// buildFlowd builds ../cmd/flowd once per test binary.
func buildFlowd(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "flowd-e2e-bin-")
		if buildErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(goroot(), "bin", "go")
		}
		flowdBin = filepath.Join(buildDir, "flowd")
		cmd := exec.Command(goBin, "build", "-o", flowdBin, "../cmd/flowd")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ../cmd/flowd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return flowdBin
}

func goroot() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something accepts connections on addr.
func waitPort(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisServer is a redis-server started by the test on a free loopback
// port, persisting to an append-only file fsynced on every write, so a
// restart on the same port and folder keeps every session.
type redisServer struct {
	URL, Addr, Dir string
	args           []string
	cmd            *exec.Cmd
	done           chan struct{}
}

// startRedis starts redis-server, or skips the test when it is missing.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server); skipping the multi-replica tests")
	}
	port := freePort(t)
	dir := t.TempDir()
	s := &redisServer{
		URL:  fmt.Sprintf("redis://127.0.0.1:%d/0", port),
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		Dir:  dir,
		args: []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", filepath.Join(dir, "redis.log")},
	}
	s.Start(t)
	t.Cleanup(s.Stop)
	return s
}

// Start runs the server and waits until it accepts connections.
func (s *redisServer) Start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Dir = s.Dir
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	if err := waitPort(s.Addr, 10*time.Second); err != nil {
		t.Fatalf("redis-server did not start on %s: %v", s.Addr, err)
	}
}

// Stop sends SIGTERM (redis-server then flushes its append-only file and
// exits) and waits; SIGKILL after 10 s.
func (s *redisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// replica is one `flowd serve` process.
type replica struct {
	Name, Addr string
	LogPath    string
	args       []string
	cmd        *exec.Cmd
	done       chan struct{}
}

func (r *replica) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Env = append(os.Environ(), "PLIVO_AUTH_TOKEN="+authToken, "PLIVO_AUTH_ID=", "FLOWD_API_TOKEN=")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", r.Name, err)
	}
	r.cmd = cmd
	r.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); logf.Close(); close(done) }(r.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-r.done:
			t.Fatalf("%s exited at start:\n%s", r.Name, tail(r.LogPath, 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer /healthz on %s:\n%s", r.Name, r.Addr, tail(r.LogPath, 20))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// kill ends the replica with SIGKILL: no graceful shutdown, requests in
// flight are cut.
func (r *replica) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// stop ends the replica with SIGTERM (graceful), SIGKILL after 10 s.
func (r *replica) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// metric sums the samples of a metric family on the replica's /metrics
// whose labels contain every one of match (`kind="callback"`, say).
func (r *replica) metric(name string, match ...string) (float64, error) {
	resp, err := http.Get("http://" + r.Addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: bad sample %q", r.Name, line)
		}
		sum += v
	}
	return sum, sc.Err()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------------
// The load balancer

// lbProxy is a round-robin reverse proxy, as a load balancer in front of
// the replicas: each request goes to the next replica in turn, and to the
// one after it when a replica cannot be reached or drops the connection
// (the request is buffered, so it can be sent again). flowd answers a
// webhook it already answered with the same XML, so resending is safe.
type lbProxy struct {
	URL string
	srv *httptest.Server
	tr  *http.Transport

	mu   sync.RWMutex
	ups  []string
	hits []atomic.Int64

	next      atomic.Uint64
	failovers atomic.Int64 // attempts that failed over to the next replica
	failed    atomic.Int64 // requests no replica answered (502)
}

func newProxy(t testing.TB) *lbProxy {
	p := &lbProxy{tr: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}}
	rp := &httputil.ReverseProxy{
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
	p.srv = httptest.NewServer(rp)
	p.URL = p.srv.URL
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

// setUpstreams sets the replicas' addresses.
func (p *lbProxy) setUpstreams(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ups = slices.Clone(addrs)
	p.hits = make([]atomic.Int64, len(addrs))
}

// served returns how many requests each replica answered.
func (p *lbProxy) served() []int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
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
	p.mu.RLock()
	ups := p.ups
	p.mu.RUnlock()
	if len(ups) == 0 {
		return nil, errors.New("no replicas")
	}
	start := int(p.next.Add(1) - 1)
	var last error
	for k := range ups {
		i := (start + k) % len(ups)
		out := req.Clone(req.Context())
		out.URL.Host = ups[i]
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := p.tr.RoundTrip(out)
		if err == nil {
			p.mu.RLock()
			if i < len(p.hits) {
				p.hits[i].Add(1)
			}
			p.mu.RUnlock()
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

// plivoRetry resends a webhook that failed, as Plivo does: on a
// connection error, a 5xx answer, or flowd's apology XML (which flowd
// answers when its store failed; a real call would hear it and end, the
// simulated caller tries again so that the call can be checked to the
// end). Backoff from 25 ms, doubling, at most 800 ms; 10 attempts.
type plivoRetry struct {
	next     http.RoundTripper
	attempts int

	retries   atomic.Int64 // webhooks sent again
	apologies atomic.Int64 // apology answers seen
	errs      atomic.Int64 // connection errors and 5xx seen
}

func (p *plivoRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	attempts := p.attempts
	if attempts <= 0 {
		attempts = 10
	}
	delay := 25 * time.Millisecond
	for a := 1; ; a++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := p.next.RoundTrip(r)
		retry := false
		if err != nil {
			retry = true
			p.errs.Add(1)
		} else {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			switch {
			case rerr != nil:
				retry, err, resp = true, rerr, nil
				p.errs.Add(1)
			case resp.StatusCode >= 500:
				retry = true
				p.errs.Add(1)
			case resp.StatusCode == http.StatusOK && bytes.Equal(b, apologyXML):
				retry = true
				p.apologies.Add(1)
			}
		}
		if !retry || a >= attempts || req.Context().Err() != nil {
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
// The cluster

// cluster is redis-server, replicas of flowd serve sharing it, and the
// proxy in front of them.
type cluster struct {
	t        testing.TB
	redis    *redisServer
	replicas []*replica
	proxy    *lbProxy
	retry    *plivoRetry
	sim      *plivosim.Sim
	api      *http.Client
}

func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	redis := startRedis(t)
	bin := buildFlowd(t)
	flows, err := filepath.Abs("../examples/flows")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, redis: redis, proxy: newProxy(t)}
	dir := t.TempDir()
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		r := &replica{
			Name: fmt.Sprintf("replica%d", i+1), Addr: addr,
			LogPath: filepath.Join(dir, fmt.Sprintf("replica%d.log", i+1)),
			args: []string{bin, "serve", "--flows", flows, "--store", redis.URL,
				"--addr", addr, "--public-url", c.proxy.URL},
		}
		r.start(t)
		t.Cleanup(r.stop)
		c.replicas = append(c.replicas, r)
		addrs = append(addrs, addr)
	}
	c.proxy.setUpstreams(addrs)
	c.retry = &plivoRetry{next: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}}
	client := &http.Client{Transport: c.retry, Timeout: 30 * time.Second}
	c.sim = &plivosim.Sim{Client: client, AuthToken: authToken}
	c.api = client
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range c.replicas {
				t.Logf("--- last lines of %s's log:\n%s", r.Name, tail(r.LogPath, 8))
			}
		}
	})
	return c
}

// webhooks returns flowd_webhooks_total of every replica (-1 for a
// replica that does not answer).
func (c *cluster) webhooks(match ...string) []float64 {
	out := make([]float64, len(c.replicas))
	for i, r := range c.replicas {
		v, err := r.metric("flowd_webhooks_total", match...)
		if err != nil {
			v = -1
		}
		out[i] = v
	}
	return out
}

// ---------------------------------------------------------------------
// Scenarios: calls walked through the example flows

// step is one webhook of a call and what it must do.
type step struct {
	Event string // answer, press, say, noinput, dial, record, exit, hangup
	Arg   string // the digits, speech or DialStatus
	// Paths are the nodes the step may walk (trace path), alternatives:
	// a flow that reads the clock walks one or the other.
	Paths [][]string
	Wait  string // the node the call then waits at; "" once the flow ended
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

// caller walks scenarios through flowd as Plivo and a caller would.
type caller struct {
	sim   *plivosim.Sim
	api   *http.Client
	base  string                   // flowd's public URL (the proxy)
	think func() time.Duration     // the caller's pause before each event
	onHop func(call string, i int) // called after each webhook of a call (optional)
	all   []scenario
}

// result is one walked call.
type result struct {
	Scenario scenario // the scenario run (an alternative, for the clock)
	CallUUID string
}

// walk is a call walked part of the way through a scenario.
type walk struct {
	sc   scenario // the scenario walked (an alternative, for the clock)
	call *plivosim.Call
	xmls [][]byte // the XML of each step
}

// run walks a call through sc (or the alternative its answer leads to),
// hangs up, and checks the call's trace. pick chooses among alternatives.
func (c *caller) run(ctx context.Context, sc scenario, pick int) (result, error) {
	w, err := c.walkTo(ctx, sc, pick, len(sc.Steps))
	res := result{Scenario: sc}
	if w != nil {
		res.Scenario = w.sc
		if w.call != nil {
			res.CallUUID = w.call.UUID
		}
	}
	if err != nil {
		return res, err
	}
	sc, call, steps := w.sc, w.call, w.sc.Steps
	if steps[len(steps)-1].Event != "hangup" {
		if err := call.Hangup(); err != nil {
			return res, fmt.Errorf("%s/%s %s: hangup: %w", sc.Flow, sc.Name, call.UUID, err)
		}
		steps = append(slices.Clone(steps), st("hangup", "", ""))
	}
	if err := c.verify(ctx, sc, steps, call.UUID, w.xmls); err != nil {
		return res, fmt.Errorf("%s/%s %s: trace: %w", sc.Flow, sc.Name, call.UUID, err)
	}
	return res, nil
}

// runTo walks a call through the first n steps of sc.
func (c *caller) runTo(ctx context.Context, sc scenario, n int) (*walk, error) {
	return c.walkTo(ctx, sc, 0, n)
}

// walkTo answers a call and sends the events of sc's steps up to n,
// checking where the call waits after each.
func (c *caller) walkTo(ctx context.Context, sc scenario, pick, n int) (*walk, error) {
	w := &walk{sc: sc}
	u, err := runtime.AnswerURL(c.base, sc.Flow, sc.Vars)
	if err != nil {
		return w, err
	}
	call, err := c.sim.Call(ctx, u, sc.Call)
	w.call = call
	id := ""
	if call != nil {
		id = call.UUID
	}
	if err != nil {
		return w, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, id, err)
	}
	call.HangupURL = c.base + "/flows/" + sc.Flow + "/hangup"
	node, err := c.waitNode(sc.Flow, call, 1)
	if err != nil {
		return w, fmt.Errorf("%s/%s %s: answer: %w", sc.Flow, sc.Name, id, err)
	}
	if node != sc.Steps[0].Wait {
		alts := alternatives(c.all, sc, node)
		if len(alts) == 0 {
			return w, fmt.Errorf("%s/%s %s: the answer waits at %q, want %q (no alternative scenario does); XML: %s", sc.Flow, sc.Name, id, node, sc.Steps[0].Wait, call.XML())
		}
		sc = alts[pick%len(alts)]
		w.sc = sc
	}
	if c.onHop != nil {
		c.onHop(id, 0)
	}
	w.xmls = [][]byte{call.XML()}
	for i := 1; i < len(sc.Steps) && i < n; i++ {
		s := sc.Steps[i]
		if c.think != nil {
			if d := c.think(); d > 0 {
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
		if c.onHop != nil {
			c.onHop(id, i)
		}
		if s.Event == "hangup" {
			break
		}
		w.xmls = append(w.xmls, call.XML())
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
	prefix := c.base + "/flows/" + flowName + "/calls/"
	rest, ok := strings.CutPrefix(w.URL, prefix)
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
		return fmt.Errorf("step %d with %d trace steps, want %d: %s", tr.Step, len(tr.Trace), len(steps), summary(tr))
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
			return fmt.Errorf("trace step %d is step %d webhook %q, want %d %q: %s", i+1, got.Step, got.Webhook, i+1, want, summary(tr))
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
	}
	return nil
}

func summary(tr *traceJSON) string {
	var b strings.Builder
	for _, s := range tr.Trace {
		fmt.Fprintf(&b, "[%d %s %s/%s %v] ", s.Step, s.Webhook, s.Node, s.Event, s.Path)
	}
	return b.String()
}
