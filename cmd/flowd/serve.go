package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/fastserve"
	"github.com/flowd-dev/flowd/internal/jsonlog"
	"github.com/flowd-dev/flowd/internal/wallclock"
	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/runtime"
)

// serveSynopsis is the usage line of flowd serve, wrapped like the README's.
const serveSynopsis = `[--flows DIR] [--addr HOST:PORT] [--public-url URL] [--store URL] [--param name=value]...
                   [--params FILE] [--insecure] [--metrics-auth] [--session-ttl 12h] [--trace-ttl 1h]
                   [--clock RFC3339] [--rest-timeout 5s] [--reload-quiet 2s] [--drain-timeout 10s]
                   [--http fasthttp|net/http] [--reserve-memory SIZE]`

// serveEnv lists, after the flags in flowd serve -h, the environment
// variables serve reads: every one of them, and no other.
const serveEnv = `
environment:
  PLIVO_AUTH_TOKEN       Plivo's auth token: webhooks must carry its signature (X-Plivo-Signature-V3)
  PLIVO_AUTH_ID          Plivo's auth id: with PLIVO_AUTH_TOKEN, REST actions, the trigger API and Basic auth on /v1
  PLIVO_MAIN_AUTH_TOKEN  the main account's auth token, also accepted for X-Plivo-Signature-Ma-V3
  PLIVO_API_URL          the base URL of Plivo's REST API (default https://api.plivo.com)
  FLOWD_API_TOKEN        the token of the /v1 API: Authorization: Bearer $FLOWD_API_TOKEN
  OTEL_EXPORTER_OTLP_ENDPOINT         an OpenTelemetry collector (OTLP/HTTP): each webhook is a span
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the same, for traces only
  OTEL_EXPORTER_OTLP_PROTOCOL         grpc for OTLP/gRPC; default http/protobuf
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL  the same, for traces only
  OTEL_SERVICE_NAME                   the service name of the spans (default flowd)
  OTEL_SDK_DISABLED                   true: no spans, whatever the endpoint
  OTEL_TRACES_EXPORTER                otlp (the default) or none
  OTEL_BSP_SCHEDULE_DELAY             ms between span exports (default 5000)
  OTEL_BSP_EXPORT_TIMEOUT             ms an export may take (default 30000)
  OTEL_BSP_MAX_QUEUE_SIZE             spans waiting for export; more are dropped (default 2048)
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE      spans per export (default 512)
  FLOWD_PARAM_<NAME>     a param's value (name upper-cased, - as _), below --param, above --params FILE
  XDG_STATE_HOME         the default --store is journal:$XDG_STATE_HOME/flowd/sessions
  HOME                   without XDG_STATE_HOME, the default --store is journal:$HOME/.local/state/flowd/sessions
  GOMAXPROCS             Go's processors; unset, flowd on the journal or bbolt takes at least 2, even on one CPU
  GOGC                   Go's collector; with GOGC and GOMEMLIMIT unset, the heap has a 64 MiB floor
  GOMEMLIMIT             Go's soft memory limit; set, serve keeps no heap floor
`

// serveContext is what serve runs under until SIGINT or SIGTERM; a test
// that starts serve in-process replaces it to stop the server.
var serveContext = context.Background

// maxRESTTimeout bounds --rest-timeout below the server's write timeout
// (15 s), with time left to write the XML.
const maxRESTTimeout = 10 * time.Second

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", serveSynopsis, serveEnv)
	dir := fs.String("flows", "flows", "the `DIR` of flow files to serve (watched for changes)")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on, `HOST:PORT`")
	publicURL := fs.String("public-url", "", "the `URL` Plivo reaches flowd at, e.g. https://flowd.example.com (default: from each request's Host)")
	store := fs.String("store", "", "session store `URL`: journal:DIR (default journal:$XDG_STATE_HOME/flowd/sessions), bolt:PATH, memory:, redis://HOST:PORT/DB, or redis-cluster://HOST:PORT,HOST:PORT")
	reloadQuiet := fs.Duration("reload-quiet", runtime.DefaultQuietPeriod, "how long a changed flow file must stay unchanged before it is reloaded")
	metricsAuth := fs.Bool("metrics-auth", false, "answer /metrics only with the API credentials, as /v1")
	insecure := fs.Bool("insecure", false, "listen on a non-loopback address without verifying Plivo signatures")
	sessionTTL := fs.Duration("session-ttl", 12*time.Hour, "how long a session lives without a webhook (calls whose hangup never arrives)")
	traceTTL := fs.Duration("trace-ttl", time.Hour, "how long a finished call's trace stays readable")
	restTimeout := fs.Duration("rest-timeout", runtime.DefaultRESTTimeout, "how long a webhook's REST actions may wait for Plivo, together; past it they take their error outcome (at most 10s: Plivo waits for the webhook's XML)")
	httpEngine := fs.String("http", "fasthttp", "the HTTP `SERVER`: fasthttp, or net/http (Go's own, to fall back on)")
	reserve := fs.String("reserve-memory", "", "`SIZE` of memory (e.g. 4GiB) held for stored calls from the start, on the memory store and the journal, so that new calls do not wait on the system for fresh memory (default: none)")
	drainTimeout := fs.Duration("drain-timeout", 10*time.Second, "on SIGTERM or SIGINT, how long the webhooks under way may take to finish before flowd exits")
	clock := fs.String("clock", "", "start the flows' clock for hours() and now() at this `RFC3339` time, e.g. 2026-11-22T10:00:00-05:00; it then advances with real time (default: the time of day)")
	var params multiFlag
	fs.Var(&params, "param", "a deployment value for every flow, `name=value` (repeatable); also FLOWD_PARAM_<NAME>")
	paramsFile := fs.String("params", "", "a YAML `FILE` of deployment values (name: value) for one environment, below --param and FLOWD_PARAM_<NAME>")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "flowd serve: unexpected argument %q: serve takes flags only (the flows folder is --flows DIR)\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *restTimeout <= 0 || *restTimeout > maxRESTTimeout {
		fmt.Fprintf(stderr, "flowd serve: --rest-timeout %v: want more than 0 and at most %v, so the webhook's XML still reaches Plivo\n", *restTimeout, maxRESTTimeout)
		return exitUsage
	}
	if *reloadQuiet <= 0 {
		fmt.Fprintf(stderr, "flowd serve: --reload-quiet %v: want more than 0 (a file being written in place would be loaded half-written)\n", *reloadQuiet)
		return exitUsage
	}
	if *httpEngine != "fasthttp" && *httpEngine != "net/http" {
		fmt.Fprintf(stderr, "flowd serve: --http %q: want fasthttp or net/http\n", *httpEngine)
		return exitUsage
	}
	reserveBytes, err := parseSize(*reserve)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: --reserve-memory %s: %v\n", *reserve, err)
		return exitUsage
	}
	if *drainTimeout <= 0 {
		fmt.Fprintf(stderr, "flowd serve: --drain-timeout %v: want more than 0\n", *drainTimeout)
		return exitUsage
	}
	if msg := checkPublicURL(*publicURL); msg != "" {
		fmt.Fprintf(stderr, "flowd serve: --public-url %s: %s\n", *publicURL, msg)
		return exitUsage
	}
	var start time.Time
	if *clock != "" {
		t, err := parseClock(*clock)
		if err != nil {
			fmt.Fprintf(stderr, "flowd serve: %v\n", err)
			return exitUsage
		}
		start = t
	}
	if info, err := os.Stat(*dir); err != nil || !info.IsDir() {
		fmt.Fprintf(stderr, "flowd serve: --flows %s is not a folder\n", *dir)
		return exitUsage
	}
	files, err := findFlows([]string{*dir})
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: --flows %v\n", err)
		return exitUsage
	}
	// Start only with every flow valid: a rolling deploy of a broken
	// folder then fails on its first new process and keeps the old ones.
	set, err := flow.LoadFiles(files)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", pathError(err))
		return exitUsage
	}
	if set.Diags.HasErrors(false) {
		for _, d := range set.Diags {
			fmt.Fprintln(stderr, d)
		}
		errs, warns := count(set.Diags)
		fmt.Fprintf(stderr, "flowd serve: not starting: %d error(s), %d warning(s) in the flows of %s (flowd validate %s lists them)\n", errs, warns, *dir, *dir)
		return exitInvalid
	}
	p, perrs := deployParams(params, *paramsFile, os.Environ(), slices.Collect(maps.Values(set.Graphs)))
	if len(perrs) > 0 {
		for _, e := range perrs {
			fmt.Fprintf(stderr, "flowd serve: %s\n", e)
		}
		return exitUsage
	}
	token := os.Getenv("PLIVO_AUTH_TOKEN")
	authID := os.Getenv("PLIVO_AUTH_ID")
	apiToken := os.Getenv("FLOWD_API_TOKEN")
	public := !isLoopback(*addr)
	if public && token == "" && !*insecure {
		fmt.Fprintf(stderr, "flowd serve: refusing to listen on %s without PLIVO_AUTH_TOKEN: anyone could drive your calls. Set PLIVO_AUTH_TOKEN so Plivo's signatures are verified, listen on 127.0.0.1, or pass --insecure.\n", *addr)
		return exitUsage
	}

	stderr, flushLog := bufferLog(stderr)
	defer flushLog() // last: after the lines of the deferred closes
	log := newLogger(stderr)
	defer logLibrariesTo(log)()
	st, err := runtime.OpenStore(*store)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitUsage
	}
	// The store closes after the server has drained (or on an early
	// return): the webhooks under way still write their sessions.
	var closeOnce sync.Once
	closeStore := func() {
		closeOnce.Do(func() {
			if err := st.Close(); err != nil {
				log.Error("closing the session store", "err", err)
			}
		})
	}
	defer closeStore()
	kind, where := storeKind(st, *store)
	if reserveBytes > 0 {
		go reserveMemory(log, kind, reserveBytes)
	}
	defer heapFloor()()
	if n := twoProcs(kind); n > 0 {
		log.Info("GOMAXPROCS raised to 2 on one CPU: a flush to the disk never holds the only processor webhooks run on", "was", n)
	}
	switch s := st.(type) {
	case *runtime.Bolt:
		log.Info("session store", "kind", "bolt", "file", s.Path())
		if *store == "" {
			log.Warn("the default store is now the journal ("+runtime.DefaultStorePath()+"): this server goes on with the bbolt file an earlier flowd made, so no live call is lost; "+
				"to move, stop flowd while no call is live and remove the file", "file", s.Path())
		}
	case *runtime.Journal:
		log.Info("session store", "kind", "journal", "dir", s.Dir())
	}
	reg := runtime.NewRegistry(*dir, log)
	reg.QuietPeriod = *reloadQuiet
	reg.Params = p
	reg.Reload()
	ctx, stop := signal.NotifyContext(serveContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := reg.Watch(ctx); err != nil {
		log.Warn("cannot watch the flows folder; reload with SIGHUP", "err", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reg.Reload()
			}
		}
	}()

	var tokens []string
	if token != "" {
		tokens = append(tokens, token)
		if main := os.Getenv("PLIVO_MAIN_AUTH_TOKEN"); main != "" {
			tokens = append(tokens, main)
		}
	}
	// OpenTelemetry, when the environment names an OTLP endpoint.
	var tp *sdktrace.TracerProvider
	protocol, on, msg := otelSettings(os.Getenv)
	if msg != "" {
		fmt.Fprintf(stderr, "flowd serve: OpenTelemetry: %s\n", msg)
		return exitUsage
	}
	if on {
		info, _ := debug.ReadBuildInfo()
		v := "(devel)"
		if info != nil {
			v = info.Main.Version
		}
		if tp, err = runtime.NewTracerProvider(context.Background(), cmp.Or(os.Getenv("OTEL_SERVICE_NAME"), "flowd"), v, protocol); err != nil {
			fmt.Fprintf(stderr, "flowd serve: OpenTelemetry: %v\n", err)
			return exitUsage
		}
		// An export that fails (the collector down) is logged, not lost
		// without a word; the webhooks never wait for it.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("OpenTelemetry: spans not sent", "err", err)
		}))
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn("OpenTelemetry: spans not sent", "err", err)
			}
		}()
		over := "OTLP/HTTP"
		if protocol == "grpc" {
			over = "OTLP/gRPC"
		}
		log.Info("OpenTelemetry: each webhook is a span, sent over " + over)
	}
	var api runtime.API
	if authID != "" && token != "" {
		pc := plivo.Config{AuthID: authID, AuthToken: token}
		if tp != nil {
			pc.HTTPClient = &http.Client{Timeout: plivo.DefaultTimeout, Transport: runtime.TracingTransport(http.DefaultTransport, tp)}
		}
		c, err := plivo.NewClient(pc)
		if err != nil {
			fmt.Fprintf(stderr, "flowd serve: %v\n", err)
			return exitUsage
		}
		api = c
	} else {
		log.Info("PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN are not both set: REST actions and the call trigger API are off")
	}
	var now func() time.Time // nil: the runtime's default, wallclock.Now
	if !start.IsZero() {
		now = wallclock.Offset(start)
		log.Info("the flows' clock starts at --clock", "clock", start.Format(time.RFC3339))
	}
	cfg := runtime.Config{
		Now:      now,
		REST:     api,
		Registry: reg, Store: st, PublicURL: *publicURL, Params: p, AuthTokens: tokens,
		APIToken: apiToken, APIBasicID: authID, APIKey: apiKey(authID, token),
		Logger: log, SessionTTL: *sessionTTL, TraceTTL: *traceTTL, RESTTimeout: *restTimeout,
		Local: token == "" && !public && loopbackURL(*publicURL), MetricsAuth: *metricsAuth,
	}
	if tp != nil {
		cfg.Tracer = tp
	}
	srv := runtime.New(cfg)
	if apiToken == "" && (authID == "" || token == "") {
		if token != "" || public || !loopbackURL(*publicURL) {
			log.Warn("no API credentials (FLOWD_API_TOKEN, or PLIVO_AUTH_ID with PLIVO_AUTH_TOKEN): /v1 answers 401 to every request")
		} else {
			log.Info("no API credentials: /v1 answers loopback only, as flowd is purely local")
		}
	}
	inflight := &inFlight{next: srv}
	var hs httpServer = newHTTPServer(*addr, inflight, log)
	if *httpEngine == "fasthttp" {
		hs = newFastServer(inflight, srv.RequestContext, log)
	}
	hs.RegisterOnShutdown(srv.EndStreams) // the console's streams never end by themselves
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitUsage
	}
	listenURL := "http://" + ln.Addr().String()
	base := cmp.Or(strings.TrimSuffix(*publicURL, "/"), listenURL)
	// The first line of stdout is parsed by scripts and tests: "flowd
	// serving DIR on LISTEN-URL (...)".
	fmt.Fprintf(stdout, "flowd serving %s on %s (public URL %s; answer_url: %s/flows/<flow>/answer)\n", *dir, listenURL, base, base)
	names := reg.Names()
	slices.Sort(names)
	flows := make([]servedFlow, 0, len(names))
	for _, name := range names {
		answer, _ := runtime.AnswerURL(base, name, nil)
		flows = append(flows, servedFlow{Flow: name, AnswerURL: answer, HangupURL: strings.TrimSuffix(answer, "/answer") + "/hangup"})
	}
	// Without --public-url the callback URLs are built from each
	// request's Host (and a proxy's X-Forwarded-*): base is then where
	// flowd listens, which is what Plivo reaches only without a proxy.
	publicFrom := "--public-url"
	if *publicURL == "" {
		publicFrom = "the listen address (callback URLs follow each request's Host)"
	}
	log.Info("serving", "addr", ln.Addr().String(), "listen_url", listenURL, "public_url", base, "public_url_from", publicFrom,
		"flows", flows, "store_kind", kind, "store", where, "http", *httpEngine, "pid", os.Getpid(), "instance", srv.Instance())
	if token == "" {
		log.Warn("PLIVO_AUTH_TOKEN is not set: webhook signatures are not verified")
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		// Serve returns only when the listener fails: nothing closed it.
		log.Error("serving failed", "err", err)
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitInvalid
	case <-ctx.Done():
	}

	// SIGTERM or SIGINT: stop accepting connections, let the webhooks
	// under way finish (Plivo waits for their XML), then close the store.
	reason := context.Cause(ctx).Error() // "terminated signal received"
	log.Info("shutting down", "reason", reason, "in_flight", inflight.drain(), "drain_timeout", drainTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	drained, abandoned := inflight.counts()
	if err != nil {
		// Plivo gets no answer from these and retries them elsewhere.
		log.Warn("the drain timeout passed with webhooks under way; closing their connections", "err", err, "abandoned", abandoned)
		_ = hs.Close()
	}
	<-errc // Serve has returned
	stop() // another SIGINT or SIGTERM now ends the process the default way
	closeStore()
	log.Info("stopped", "reason", reason, "drained", drained, "abandoned", abandoned)
	return exitOK
}

// httpServer is what serve needs of its HTTP server: net/http's or
// fastserve's.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	RegisterOnShutdown(func())
	// Close closes the connections Shutdown left open.
	Close() error
}

// The timeouts of both HTTP servers, so that a slow client cannot hold
// connections: to read a request, to write its response, and for a kept
// connection to wait for its next request.
const (
	readTimeout  = 10 * time.Second
	writeTimeout = 15 * time.Second
	idleTimeout  = 120 * time.Second
)

// newFastServer is serve's default HTTP server: fasthttp, with the
// timeouts of newHTTPServer. The console's live stream takes its
// connection over (runtime.IsEventsPath). Requests are served in the
// contexts reqCtx makes (runtime.Server.RequestContext), one for each of
// fastserve's pooled exchanges.
func newFastServer(h http.Handler, reqCtx func() context.Context, log *slog.Logger) *fastserve.Server {
	return fastserve.New(fastserve.Config{
		Handler: h,
		Context: reqCtx,
		Stream: func(method, path []byte) bool {
			return string(method) == http.MethodGet && runtime.IsEventsPath(string(path))
		},
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  idleTimeout,
		// fasthttp keeps a buffer of this size for each connection
		// reading a request: Plivo's headers take 1–2 KiB.
		MaxHeaderBytes: 16 << 10,
		Logger:         log,
	})
}

// newHTTPServer is serve's HTTP server: timeouts so a slow client cannot
// hold connections, and the server's own errors logged through log.
func newHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// servedFlow is a flow of the "serving" log line, with the URLs to give
// its Plivo application.
type servedFlow struct {
	Flow      string `json:"flow"`
	AnswerURL string `json:"answer_url"`
	HangupURL string `json:"hangup_url"`
}

// twoProcs gives the Go scheduler a second processor (GOMAXPROCS 2)
// when flowd has one CPU to run on (taskset, a container's CPU limit) and
// its store flushes to the disk (kind journal or bolt), unless GOMAXPROCS
// is set in the environment; it returns the earlier setting, or 0 when it
// changed nothing.
//
// With one processor, the goroutine that waits in fdatasync (the
// journal's, bbolt's) holds it until the runtime's monitor takes it back,
// which may be milliseconds: no webhook runs meanwhile. Measured with wrk,
// 64 connections, flowd pinned to one CPU, alternating fresh servers: the
// journal answered 22.2–26.1 k webhooks a second with GOMAXPROCS 1 against
// 23.3–29.2 k with 2, and its p99 at 13,000 a second was 23.6–720 ms
// against 11.7–28.5 (an earlier measurement: 5.7–18.7 k against
// 18.7–19.5 k).
//
// The memory and Redis stores never wait for the disk, and there a second
// processor costs more than it gives: the kernel shares the one CPU
// between the two processors' threads, so the collector's dedicated
// marker and its background sweeper, which on one processor run only
// when no webhook is ready to, take half of the CPU from the webhooks for
// as long as they run, and every stop of the world waits for the other
// thread's turn (1.2–2.4 ms against 0.04). Measured the same way, the
// memory store answered 37.0–41.1 k webhooks a second with GOMAXPROCS 1
// against 33.6–38.0 k with 2 (24.3–27.0 µs of CPU each against 26.2–29.6),
// and its p99 at 17,000 a second was 4.4–8.1 ms against 11.2–15.4, four
// rounds of each; before its calls left the Go heap, the collector's
// marking was long enough that a second processor shortened the tail
// instead.
func twoProcs(kind string) int {
	if kind != "journal" && kind != "bolt" {
		return 0
	}
	if n := goruntime.GOMAXPROCS(0); n < 2 && os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(2)
		return n
	}
	return 0
}

// reserveMemory touches the memory reserve for stored calls in the
// background (a few GiB take seconds, more on a virtual machine) and
// says when it is done: the webhooks meanwhile take what is ready.
func reserveMemory(log *slog.Logger, kind string, n int64) {
	if kind != "memory" && kind != "journal" {
		log.Warn("--reserve-memory is for the memory store and the journal: this store keeps its calls elsewhere", "store_kind", kind)
		return
	}
	t0 := time.Now()
	got, err := runtime.ReserveMemory(n)
	if err != nil {
		log.Error("reserving memory for stored calls", "err", err, "bytes", got)
		return
	}
	log.Info("memory reserved for stored calls", "bytes", got, "took_ms", time.Since(t0).Milliseconds())
}

// parseSize reads a size in bytes: a whole number, alone or followed by
// B, KiB, MiB, GiB or TiB; "" is 0.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num := strings.TrimRight(s, "KMGTiB")
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}
	sh, ok := shift[s[len(num):]]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 0 || n > math.MaxInt64>>sh {
		return 0, fmt.Errorf("want a size such as 4GiB, 512MiB or 0")
	}
	return n << sh, nil
}

// storeKind names the kind of a store and where it is (a file, a Redis
// URL without its password) for the logs.
func storeKind(st runtime.Store, raw string) (kind, where string) {
	switch s := st.(type) {
	case *runtime.Bolt:
		return "bolt", "bolt:" + s.Path()
	case *runtime.Journal:
		return "journal", "journal:" + s.Dir()
	case *runtime.Memory:
		return "memory", "memory:"
	}
	scheme, _, _ := strings.Cut(raw, ":")
	if u, err := url.Parse(raw); err == nil {
		return scheme, u.Redacted()
	}
	return scheme, ""
}

// inFlight counts the requests being served, and, once drain is called,
// those that finish after it.
type inFlight struct {
	next     http.Handler
	mu       sync.Mutex
	active   int
	draining bool
	drained  int
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if runtime.IsEventsPath(r.URL.Path) {
		// The console's live stream lasts as long as the page is open:
		// it is no webhook under way, and the shutdown ends it.
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.active++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		if f.draining {
			f.drained++
		}
		f.mu.Unlock()
	}()
	f.next.ServeHTTP(w, r)
}

// drain marks the start of the shutdown and returns the requests under
// way then.
func (f *inFlight) drain() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.draining = true
	return f.active
}

// counts returns the requests that finished since drain and those still
// under way.
func (f *inFlight) counts() (drained, active int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drained, f.active
}

// logLibrariesTo sends what libraries log to log: go-redis's messages,
// and the standard library's log package (Warn, through log's handler),
// which others use. It returns the function that puts things back.
func logLibrariesTo(log *slog.Logger) (restore func()) {
	prev, prevOut, prevFlags := slog.Default(), stdlog.Writer(), stdlog.Flags()
	runtime.SetRedisLogger(log)
	slog.SetDefault(log)
	prevLevel := slog.SetLogLoggerLevel(slog.LevelWarn)
	return func() {
		runtime.SetRedisLogger(nil)
		slog.SetDefault(prev)
		slog.SetLogLoggerLevel(prevLevel)
		stdlog.SetOutput(prevOut)
		stdlog.SetFlags(prevFlags)
	}
}

// apiKey is the Basic-auth password /v1 accepts: the Plivo auth token,
// when an auth id names the account.
func apiKey(authID, token string) string {
	if authID == "" {
		return ""
	}
	return token
}

// loopbackURL reports whether a public URL names a loopback host; no URL
// (callback URLs from each request's Host) counts as loopback, as the
// listen address decides then.
func loopbackURL(raw string) bool {
	if raw == "" {
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && runtime.IsLoopbackHost(u.Hostname())
}

// otelSettings reads OpenTelemetry's standard variables: tracing is on
// when an OTLP endpoint is named, unless OTEL_SDK_DISABLED is true or
// OTEL_TRACES_EXPORTER is none; protocol is grpc or http/protobuf. msg
// says what flowd cannot do that the variables ask for.
func otelSettings(getenv func(string) string) (protocol string, on bool, msg string) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return "", false, ""
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return "", false, ""
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return "", false, ""
	case "", "otlp":
	default:
		return "", false, fmt.Sprintf("OTEL_TRACES_EXPORTER=%s: flowd exports traces over OTLP only (otlp, or none for no traces)", exp)
	}
	protocol = cmp.Or(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	switch protocol {
	case "", "http/protobuf":
		return "http/protobuf", true, ""
	case "grpc":
		return protocol, true, ""
	}
	return "", false, fmt.Sprintf("protocol %s: flowd sends OTLP as http/protobuf (the default) or grpc", protocol)
}

// checkPublicURL says what is wrong with a --public-url, or "": flowd
// appends its paths to it (https://example.com/plivo + /flows/...), so
// it is an absolute http(s) URL without a query, fragment or user.
func checkPublicURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "want an absolute http:// or https:// URL, such as https://flowd.example.com"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "a query or fragment cannot take flowd's paths after it; give the URL without it"
	case u.User != nil:
		return "a user and password in the URL would be sent to Plivo in every callback URL; give it without them"
	}
	return ""
}

// isLoopback reports whether addr listens only on the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && runtime.IsLoopbackHost(host)
}

// newLogger logs JSON unless stderr is a terminal: slog's JSON lines,
// written faster (jsonlog). Into a logWriter, a warning or an error is
// written at once, with the lines before it.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	var flush func()
	if l, ok := w.(*logWriter); ok {
		flush = l.Flush
	}
	return slog.New(jsonlog.NewFlushing(w, flush))
}
