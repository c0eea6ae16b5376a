package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/wallclock"
)

// Config is what a Server needs. Zero values take the defaults noted.
type Config struct {
	Registry *Registry
	Store    Store
	// PublicURL is the URL Plivo reaches flowd at (https://flowd.example.com).
	// Without it, callback URLs are built from each request's Host and
	// X-Forwarded-Proto/X-Forwarded-Host.
	PublicURL string
	// Params override the flows' declared params for every call.
	Params map[string]string
	// AuthTokens verify Plivo's webhook signatures: the account token
	// first, then any others (a main account's token for -Ma- headers).
	// Empty means signatures are not checked.
	AuthTokens []string
	// APIToken and APIBasic (auth id, token) guard /v1 (and /metrics with
	// MetricsAuth). With neither set, /v1 answers only when Local, and
	// only to loopback.
	APIToken           string
	APIBasicID, APIKey string
	// Local says flowd is purely local: no Plivo auth token, a loopback
	// public URL and listen address. Only then may /v1 go without
	// credentials.
	Local bool
	// MetricsAuth puts /metrics behind the API credentials.
	MetricsAuth bool
	Logger      *slog.Logger
	// SessionTTL is how long a session lives without a webhook, for calls
	// whose hangup never arrives (default 12h). TraceTTL is how long a hung
	// up call's trace stays readable (default 1h).
	SessionTTL, TraceTTL time.Duration
	// TraceFirst and TraceLast are the entries a call's trace keeps: the
	// first and the latest (default 50 and 100); those between are left
	// out, so a long call costs what a short one does.
	TraceFirst, TraceLast int
	// ClaimWait is how long a copy of a webhook waits for the step another
	// copy claimed before it answers 503 (default 10s): under the HTTP
	// server's write timeout, which would close it without an answer.
	ClaimWait time.Duration
	// TraceEvents is how many of a call's events (status and recording
	// callbacks of the nodes that asked for them) its trace keeps: the
	// latest (default 50), apart from its steps.
	TraceEvents int
	// MaxBody limits a webhook's body (default 64 KiB).
	MaxBody int64
	// Now is the clock: the flows' hours() and now(), session times
	// (default wallclock.Now).
	Now func() time.Time
	// REST is Plivo's REST API, for flows' REST actions and the trigger
	// API; nil when flowd has no Plivo credentials.
	REST API
	// HTTP sends the requests of flows' http nodes (default: one shared
	// client, NewHTTPClient); flow tests answer them from mocks.
	HTTP flow.HTTP
	// Tracer, when set, makes a span of each webhook and a child span of
	// each http node request (telemetry.go); nil: no spans.
	Tracer trace.TracerProvider
	// RESTTimeout bounds a webhook's REST actions together (default 5 s):
	// Plivo waits for the webhook's XML, and an action that runs out takes
	// its error outcome, with time left to answer.
	RESTTimeout time.Duration
}

// Server serves flows to Plivo. It is a plain http.Handler.
type Server struct {
	cfg     Config
	reg     *Registry
	store   Store
	log     *slog.Logger
	metrics *metrics
	router  chi.Router
	walkers sync.Pool
	pinned  sync.Map // versionKey → time the version was last kept in the store
	// flowParams holds each graph's params (its defaults and Config.Params
	// over them), made once: walks only read them.
	flowParams sync.Map // versionKey → map[string]any
	// answerPrefixes are the answers' xmlPrefix, by flow.
	answerPrefixes sync.Map // flow name → string
	// instance tells this Server from any other on /healthz.
	instance string
	// tracer makes the webhooks' spans; nil without Config.Tracer.
	tracer trace.Tracer
	// phloInflight holds the trigger API's in-process claims of requests
	// being handled (phloonce.go), by key.
	phloInflight sync.Map
	// numberLocks serialise this process's changes to the lists of the
	// calls on a Plivo number (indexNumber), by a hash of the list's key.
	numberLocks [16]sync.Mutex
	// calls are this process's live calls, for the console (livecalls.go).
	calls *callHub
	// webhookPC is the program counter of logStep's webhook line, for
	// the log's source; 0 until the first one.
	webhookPC atomic.Uintptr
	// routeCtxs are chi's routing contexts, reused as chi reuses them.
	routeCtxs sync.Pool
	// lastBase is the base URL hostBase made last.
	lastBase atomic.Pointer[hostURL]
	// webhooks are Plivo's webhook routes, as ServeHTTP matches them.
	webhooks []webhookRoute
	// prefix is the path of the public URL ("/plivo" of
	// https://example.com/plivo), served as well as the bare paths
	// (publicPrefix); "" when it has none.
	prefix, rawPrefix string
}

// DefaultRESTTimeout is Config.RESTTimeout's default: well inside the
// server's write timeout and the time Plivo waits for an answer.
const DefaultRESTTimeout = 5 * time.Second

// New returns a Server for the config.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.TraceTTL == 0 {
		cfg.TraceTTL = time.Hour
	}
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = 10 * time.Second
	}
	if cfg.TraceEvents == 0 {
		cfg.TraceEvents = 50
	}
	if cfg.TraceFirst == 0 && cfg.TraceLast == 0 {
		cfg.TraceFirst, cfg.TraceLast = 50, 100
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = wallclock.Now
	}
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient()
	}
	if cfg.RESTTimeout == 0 {
		cfg.RESTTimeout = DefaultRESTTimeout
	}
	s := &Server{cfg: cfg, reg: cfg.Registry, store: cfg.Store, log: cfg.Logger, instance: newInstanceID()}
	if cfg.Tracer != nil {
		s.tracer = cfg.Tracer.Tracer(tracerName)
		s.cfg.HTTP = tracedHTTP{next: cfg.HTTP, tracer: s.tracer}
	}
	s.metrics = newMetrics(cfg.Store)
	s.metrics.nodes = newNodeCounts(cfg.Now, func(name string) bool { return s.reg.Current(name) != nil })
	s.calls = newCallHub(cfg.Now, cfg.SessionTTL)
	s.walkers.New = func() any { return newWebhookWalker(s.params) }
	s.reg.onReload = func(ok bool) {
		result := "ok"
		if !ok {
			result = "failed"
		}
		s.metrics.reloads.WithLabelValues(result).Inc()
	}
	s.prefix, s.rawPrefix = publicPrefix(cfg.PublicURL)
	s.router = s.routes()
	return s
}

// publicPrefix returns the path of a public URL, as it is and escaped,
// when flowd should serve under it: its callback URLs point under it
// (https://example.com/plivo/flows/...), and a reverse proxy may pass the
// path on without stripping it. None when the URL has no path, or when
// its first segment is one of flowd's own (/flows, /v1, /ui, /healthz,
// /metrics): a bare path could then be taken for a prefixed one.
func publicPrefix(public string) (string, string) {
	u, err := url.Parse(public)
	if err != nil {
		return "", ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	if !strings.HasPrefix(p, "/") {
		return "", ""
	}
	first, _, _ := strings.Cut(p[1:], "/")
	switch first {
	case "flows", "v1", "ui", "healthz", "metrics":
		return "", ""
	}
	return p, strings.TrimSuffix(u.EscapedPath(), "/")
}

// stripPrefix takes the public URL's path off r's, when r's is under
// it: one place, before any routing, so the webhook routes, chi's
// and the signature check (which puts the public URL back in front) see
// the bare path whether or not the proxy stripped the prefix.
func (s *Server) stripPrefix(r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return
	}
	if rest == "" {
		rest = "/"
	}
	u := *r.URL
	u.Path = rest
	if raw, ok := strings.CutPrefix(u.RawPath, s.rawPrefix); ok && raw != "" {
		u.RawPath = raw
	} else {
		u.RawPath = ""
	}
	r.URL = &u
}

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverer)
	r.Get("/healthz", s.healthz())
	if s.cfg.MetricsAuth {
		r.With(s.apiAuth).Method(http.MethodGet, "/metrics", s.metrics.handler())
	} else {
		r.Method(http.MethodGet, "/metrics", s.metrics.handler())
	}
	// Plivo's webhooks, in the top router rather than a sub-router for
	// /flows/{flow}, so a path under /flows/ that is none of these is 404
	// before its signature is checked. ServeHTTP matches them itself
	// before chi does (webhookroutes.go), with the same chain of
	// middlewares: chi's routes answer what it leaves.
	webhookMWs := []func(http.Handler) http.Handler{s.flowCtx, s.limitBody, s.parseForm, s.verifySignature}
	wh := r.With(webhookMWs...)
	for _, h := range []struct {
		pattern string
		handler http.Handler
	}{
		{"/flows/{flow}/answer", s.timed("answer", s.answer)},
		{"/flows/{flow}/hangup", s.timed("hangup", s.hangup)},
		{"/flows/{flow}/calls/{step}/{node}/{event}", s.timed("callback", s.callback)},
		{"/flows/{flow}/events/{callUUID}/{node}/{kind}", s.timed("event", s.event)},
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			wh.Method(m, h.pattern, h.handler)
		}
		// The chain chi runs for the route: the top router's
		// middlewares, then the webhooks'.
		mws := append(slices.Clone(r.Middlewares()), webhookMWs...)
		s.webhooks = append(s.webhooks, newWebhookRoute(h.pattern, chi.Chain(mws...).Handler(h.handler)))
	}
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.apiAuth)
		r.Get("/calls/{callUUID}", s.trace)
		r.Get("/flows", s.flowsList)
		r.With(s.flowCtx).Post("/flows/{flow}/calls", s.startCall)
		r.With(s.flowCtx).Post("/phlo/{flow}/multi_party_call/{node}", s.phloCall)
		r.With(s.flowCtx).Post("/phlo/{flow}/multi_party_call/{node}/members/{member}", s.phloMember)
		// JSON in, JSON out: a path or method the API does not have too.
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.apiFail(w, http.StatusNotFound, "no such API path: %s", r.URL.Path)
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			s.apiFail(w, http.StatusMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path)
		})
	})
	s.consoleRoutes(r)
	return r
}

// ServeHTTP implements http.Handler. It gives the request its context
// (requestCtx) with chi's routing context in it, as chi would, so that
// neither chi nor flowCtx copies the request again to add theirs. As
// chi does, it reuses the routing context once the request is served.
// Plivo's webhooks it routes itself (matchWebhook); chi routes the rest.
// A path under the public URL's path is served as the bare path
// (stripPrefix).
// A request routed already by a chi router that mounts the Server keeps
// that router's routing context, as chi keeps it.
//
// A request whose context is one of RequestContext's, not serving
// another request, is served in that context, reset: no copy of the
// request is made for it. In any other of RequestContext's contexts (a
// busy one, another Server's), a request gets one of its own, as in a
// plain context.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().(*requestCtx); ok && c.server == s && !c.serving {
		c.reset(s.router)
		c.serving = true
		defer c.served() // after a panic too
		if s.prefix != "" {
			r = r.WithContext(c) // a copy for stripPrefix to change
		}
		s.serveIn(w, r, c)
		return
	}
	if _, ours := r.Context().(*requestCtx); !ours && chi.RouteContext(r.Context()) != nil {
		s.router.ServeHTTP(w, r)
		return
	}
	rctx, _ := s.routeCtxs.Get().(*chi.Context)
	if rctx == nil {
		rctx = chi.NewRouteContext()
	}
	c := &requestCtx{Context: r.Context(), rctx: rctx}
	c.reset(s.router)
	s.serveIn(w, r.WithContext(c), c)
	s.routeCtxs.Put(rctx)
}

// serveIn serves r, whose context is c: a webhook on its route, anything
// else through chi. c's parameters go back to their pool when it is done.
// With a public URL's path, r must be a copy of ServeHTTP's own: its URL
// changes (stripPrefix).
func (s *Server) serveIn(w http.ResponseWriter, r *http.Request, c *requestCtx) {
	if s.prefix != "" {
		s.stripPrefix(r)
	}
	if wr := s.matchWebhook(r, c.rctx); wr != nil {
		wr.chain.ServeHTTP(w, r)
	} else {
		s.router.ServeHTTP(w, r)
	}
	c.releaseForm()
}

// RequestContext returns a context for requests to be served in, one at
// a time, for an HTTP server that reuses a request's context
// (fastserve.Config.Context): ServeHTTP resets it for each request,
// rather than copying the request to give it a context of its own, which
// was a tenth of an answer's garbage.
func (s *Server) RequestContext() context.Context {
	return &requestCtx{Context: context.Background(), rctx: chi.NewRouteContext(), server: s}
}

// timed measures a webhook handler.
func (s *Server) timed(kind string, h http.HandlerFunc) http.Handler {
	obs := s.metrics.latency.WithLabelValues(kind)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, span := s.startWebhook(r, kind)
		h(w, r)
		if span != nil {
			span.End()
		}
		obs.Observe(time.Since(start).Seconds())
	})
}

// versionKey names a flow version in the Server's maps. A struct rather
// than "flow@version": looking one up makes no string, where the
// concatenation was an allocation on every webhook (twice for an answer).
type versionKey struct{ flow, version string }

// params returns a flow version's params for a walk: Config.Params over
// its defaults, converted to their types once. flowd serve checks them
// against the flows when it starts; a version loaded later whose params
// cannot be resolved is logged, and its calls read those params as
// missing (nil), which sends them to on_error where they are used.
func (s *Server) params(g *flow.Graph) map[string]any {
	key := versionKey{g.Name, g.Version}
	if p, ok := s.flowParams.Load(key); ok {
		return p.(map[string]any)
	}
	p, errs := g.ResolveParams(s.cfg.Params)
	for _, e := range errs {
		s.log.Error("a param of the flow cannot be used; its calls read it as missing", "flow", g.Name, "version", g.Version, "param", e.Param, "err", e.Err)
	}
	v, _ := s.flowParams.LoadOrStore(key, p)
	return v.(map[string]any)
}

// pin keeps the flow version's source in the store so calls on it can be
// served after a restart or by another replica. Refreshed at half the TTL;
// in between, no store round trip: a store that can lose its data while
// flowd runs (Redis) notices the loss in the answer's own write and
// writes back the versions this process pinned (redis_versions.go).
func (s *Server) pin(ctx context.Context, g *flow.Graph, now time.Time) error {
	key := versionKey{g.Name, g.Version}
	if at, ok := s.pinned.Load(key); ok && now.Sub(at.(time.Time)) < s.cfg.SessionTTL/2 {
		return nil
	}
	if err := s.store.PutVersion(ctx, g.Name, g.Version, g.Source, s.cfg.SessionTTL+s.cfg.TraceTTL); err != nil {
		return err
	}
	s.pinned.Store(key, now)
	return nil
}
