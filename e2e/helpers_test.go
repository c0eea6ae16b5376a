package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/cluster"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/scenarios"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// authToken is the Plivo auth token of the test account: the replicas
// verify every webhook's signature with it, through the proxy.
const authToken = "e2e-auth-token-0123456789"

// apiToken is the replicas' FLOWD_API_TOKEN: /v1 answers only with it.
const apiToken = "e2e-api-token"

// crmToken is crm-routing's crm_token on the replicas: the fake CRM the
// test serves answers only with it.
const crmToken = "e2e-crm-token-0123456789"

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
	code := testenv.Wrap(m).Run()
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
	bin := testenv.LookPath(t, "redis-server", "Debian: apt-get install redis-server")
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
	cmd.Env = append(os.Environ(), "PLIVO_AUTH_TOKEN="+authToken, "PLIVO_AUTH_ID=", "FLOWD_API_TOKEN="+apiToken)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", r.Name, err)
	}
	r.cmd = cmd
	r.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); logf.Close(); close(done) }(r.done)
	// Healthy means this process answers: /healthz carries its pid, so
	// another server that took the port fails the test at once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		select {
		case <-r.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := cluster.WaitHealthy(ctx, nil, r.Addr, cmd.Process.Pid); err != nil {
		select {
		case <-r.done:
			t.Fatalf("%s exited at start:\n%s", r.Name, tail(r.LogPath, 20))
		default:
		}
		t.Fatalf("%s on %s: %v\n%s", r.Name, r.Addr, err, tail(r.LogPath, 20))
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
// The cluster

// testCluster is redis-server, replicas of flowd serve sharing it, and
// the proxy in front of them (served on proxyURL). The replicas look
// crm-routing's callers up in crm, the fake CRM the test serves on a
// 127.0.0.1 port of its own (--param crm_url), never in crm.example.com.
type testCluster struct {
	t        testing.TB
	crm      *scenarios.CRM
	redis    *redisServer
	replicas []*replica
	proxy    *cluster.Proxy
	proxyURL string
	retry    *cluster.Retry
	sim      *plivosim.Sim
	api      *http.Client
}

func startCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	redis := startRedis(t)
	bin := buildFlowd(t)
	flows, err := filepath.Abs("../examples/flows")
	if err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, redis: redis,
		proxy: cluster.NewProxy(nil, cluster.Pool{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second})}
	srv := httptest.NewServer(c.proxy.Handler())
	c.proxyURL = srv.URL
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		c.proxy.CloseIdleConnections()
	})
	// The fake CRM, in this process: the listener is the test's own, so
	// whatever answers there is this CRM. It closes after the replicas.
	c.crm = scenarios.NewCRM(crmToken)
	crm := httptest.NewServer(c.crm)
	t.Cleanup(crm.Close)
	dir := t.TempDir()
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		r := &replica{
			Name: fmt.Sprintf("replica%d", i+1), Addr: addr,
			LogPath: filepath.Join(dir, fmt.Sprintf("replica%d.log", i+1)),
			args: []string{bin, "serve", "--flows", flows, "--store", redis.URL,
				"--addr", addr, "--public-url", c.proxyURL,
				// The flows' clock: the test clock, not the time of day.
				"--clock", testenv.ClockStart().Format(time.RFC3339),
				// crm-routing's look-ups: the fake CRM, never the default URL.
				"--param", "crm_url=" + crm.URL + "/api", "--param", "crm_token=" + crmToken},
		}
		r.start(t)
		t.Cleanup(r.stop)
		c.replicas = append(c.replicas, r)
		addrs = append(addrs, addr)
	}
	c.proxy.SetUpstreams(addrs)
	c.retry = &cluster.Retry{Next: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}}
	client := &http.Client{Transport: c.retry, Timeout: 30 * time.Second}
	c.sim = &plivosim.Sim{Client: client, AuthToken: authToken}
	c.api = &http.Client{Transport: &cluster.Retry{Next: c.retry.Next, Bearer: apiToken}, Timeout: 30 * time.Second}
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
func (c *testCluster) webhooks(match ...string) []float64 {
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
