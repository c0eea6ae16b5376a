// Package fastserve serves a net/http Handler over fasthttp's HTTP/1.1
// server, for flowd serve.
//
// Why: measured on one CPU with wrk, net/http spends about 16 µs of CPU
// per small keep-alive request (parsing the form and writing 200 bytes)
// where fasthttp spends about 5.5 µs (docs/store-engines.md, "The HTTP
// server"). flowd's answer webhook does about 10 µs of its own work, so
// the server under it was most of a webhook's cost.
//
// The handler stays a plain http.Handler (runtime.Server, its tests and
// anything embedding it are unchanged). Each request is served one of
// two ways:
//
//   - Most requests go through a synchronous bridge (serveDirect): the
//     fasthttp request is copied into a pooled http.Request, the handler
//     runs on the connection's goroutine, and what it wrote is copied to
//     the fasthttp response when it returns. Its ResponseWriter does not
//     flush or hijack.
//   - Requests Config.Stream names (the console's event stream) go
//     through fasthttpadaptor, which runs the handler on a goroutine of
//     its own so that it can flush a response as it goes.
//
// What a handler sees is what net/http gives it: Method, URL parsed from
// the raw request target, Proto, Header (canonical keys, Host taken out
// into r.Host), Body, ContentLength, RemoteAddr, RequestURI, Close. Its
// context is Config.BaseContext's, which is not cancelled when the client
// goes away. As with net/http, a response without a Content-Type gets one
// sniffed from its first 512 bytes; Content-Length is the body's. A
// handler must not keep the request or the writer after it returns: both
// are reused.
package fastserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Config is a Server's settings. The zero durations and sizes take the
// defaults of flowd serve's net/http server.
type Config struct {
	Handler http.Handler
	// Stream reports whether a request (by method and path) is served
	// through fasthttpadaptor, whose writer flushes: responses streamed
	// as they are written (server-sent events).
	Stream func(method, path []byte) bool
	// BaseContext is every request's context (default
	// context.Background()).
	BaseContext context.Context
	// ReadTimeout bounds reading a request, header and body (default
	// 10 s); WriteTimeout writing its response (15 s); IdleTimeout how
	// long a kept-alive connection waits for its next request (120 s).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (default 16 KiB; a larger
	// header is answered 431), MaxBodyBytes its body (default 1 MiB;
	// 413). The handler may set lower limits of its own.
	MaxHeaderBytes, MaxBodyBytes int
	// Logger gets the server's own errors (a connection it could not
	// read, a handler's panic), at level Warn.
	Logger *slog.Logger
}

// Server is an HTTP/1.1 server for an http.Handler.
type Server struct {
	cfg     Config
	fs      *fasthttp.Server
	stream  fasthttp.RequestHandler
	base    context.Context
	log     *slog.Logger
	pool    sync.Pool // *exchange
	onClose []func()

	conns sync.Map // the open connections (net.Conn), each with its RemoteAddr string
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, base: cfg.BaseContext, log: cfg.Logger}
	if s.base == nil {
		s.base = context.Background()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	orInt := func(n, def int) int {
		if n > 0 {
			return n
		}
		return def
	}
	s.stream = fasthttpadaptor.NewFastHTTPHandler(cfg.Handler)
	s.fs = &fasthttp.Server{
		Handler:                       s.serve,
		ReadTimeout:                   or(cfg.ReadTimeout, 10*time.Second),
		WriteTimeout:                  or(cfg.WriteTimeout, 15*time.Second),
		IdleTimeout:                   or(cfg.IdleTimeout, 120*time.Second),
		ReadBufferSize:                orInt(cfg.MaxHeaderBytes, 16<<10),
		MaxRequestBodySize:            orInt(cfg.MaxBodyBytes, 1<<20),
		Logger:                        logger{s.log},
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		ConnState:                     s.track,
		ErrorHandler:                  requestError,
		// A 1.0 client without keep-alive, or Connection: close, gets
		// its connection closed as net/http closes it.
	}
	s.pool.New = func() any { return new(exchange) }
	return s
}

// Serve accepts connections on ln until Shutdown; it returns nil then,
// and the listener's error otherwise.
func (s *Server) Serve(ln net.Listener) error { return s.fs.Serve(ln) }

// RegisterOnShutdown has f called when Shutdown starts, as
// http.Server.RegisterOnShutdown: to end streams that would never end by
// themselves.
func (s *Server) RegisterOnShutdown(f func()) { s.onClose = append(s.onClose, f) }

// Shutdown stops accepting connections, closes the idle ones, and waits
// for the requests under way to be answered (their connections then
// closed), until ctx ends: it returns ctx's error then, with those
// connections left open.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, f := range s.onClose {
		f()
	}
	return s.fs.ShutdownWithContext(ctx)
}

// track keeps the open connections, for Close and remoteAddr.
func (s *Server) track(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		s.conns.Store(c, c.RemoteAddr().String())
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		s.conns.Delete(c)
	}
}

// Close closes every connection still open, answered or not: after a
// Shutdown whose wait ran out.
func (s *Server) Close() error {
	s.conns.Range(func(c, _ any) bool {
		_ = c.(net.Conn).Close()
		return true
	})
	return nil
}

// serve is the fasthttp handler: a request Config.Stream names goes
// through fasthttpadaptor, any other through serveDirect.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	if s.cfg.Stream != nil && s.cfg.Stream(ctx.Method(), ctx.Path()) {
		s.stream(ctx)
		return
	}
	s.serveDirect(ctx)
}

// requestError answers a request fasthttp could not read, as net/http
// answers one: 431 for a header past its limit, 413 for a body past its,
// 408 for a client too slow, 400 for the rest; the connection is closed.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		ctx.Error("431 Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.Error("413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		ctx.Error("408 Request Timeout", http.StatusRequestTimeout)
	default:
		ctx.Error("400 Bad Request", http.StatusBadRequest)
	}
}

// exchange is one request's net/http side, pooled.
type exchange struct {
	req  http.Request
	url  url.URL
	hdr  http.Header
	raw  []byte   // the header's values, copied together
	vals []string // the header's values, each field's slice a part of it
	body body
	w    writer
}

// serveDirect runs the handler on ctx's goroutine with a request and a
// writer made from ctx, then writes the response the writer kept.
func (s *Server) serveDirect(ctx *fasthttp.RequestCtx) {
	x := s.pool.Get().(*exchange)
	r, err := s.request(ctx, x)
	if err != nil {
		// A request target net/http would refuse too.
		ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
		ctx.Response.Header.Set("Connection", "close")
		ctx.SetStatusCode(http.StatusBadRequest)
		ctx.SetBodyString("400 Bad Request: " + err.Error())
		ctx.SetConnectionClose()
		s.release(x)
		return
	}
	w := &x.w
	w.reset(ctx)
	if !s.run(w, r) {
		// The handler panicked: as net/http, the client gets no
		// response and the connection is closed. What it wrote is
		// dropped.
		ctx.Response.Reset()
		ctx.Response.SkipBody = true
		ctx.SetConnectionClose()
		// fasthttp has no way to send nothing on a connection it
		// answers: a 500 it is, with no body.
		ctx.SetStatusCode(http.StatusInternalServerError)
		s.release(x)
		return
	}
	w.finish()
	if r.Close {
		ctx.SetConnectionClose()
	}
	s.release(x)
}

// run serves r, reporting false when the handler panicked (it is logged,
// as net/http logs it, unless it is http.ErrAbortHandler).
func (s *Server) run(w *writer, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				s.log.Warn("panic serving a request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "panic", fmt.Sprint(p))
			}
			ok = false
		}
	}()
	s.cfg.Handler.ServeHTTP(w, r)
	return true
}

// release returns x to the pool with nothing of its request left in it.
func (s *Server) release(x *exchange) {
	x.req = http.Request{}
	x.url = url.URL{}
	clear(x.hdr)
	clear(x.vals)
	x.body = body{}
	x.w.ctx = nil
	clear(x.w.h)
	s.pool.Put(x)
}

// request fills x's http.Request from ctx, as net/http reads one: the
// strings it holds are copies, so nothing of fasthttp's buffers outlives
// the request through them. The header's values share one string, and
// their slices one array of x's.
func (s *Server) request(ctx *fasthttp.RequestCtx, x *exchange) (*http.Request, error) {
	target := string(ctx.RequestURI())
	u := &x.url
	if !plainTarget(target) {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return nil, err
		}
	} else if path, query, ok := strings.Cut(target, "?"); ok {
		*u = url.URL{Path: path, RawQuery: query}
	} else {
		*u = url.URL{Path: path}
	}
	if x.hdr == nil {
		x.hdr = make(http.Header, 16)
	}
	h := &ctx.Request.Header
	// The values, copied into one string: a request's header is one
	// allocation rather than one per field.
	x.raw = x.raw[:0]
	for _, v := range h.All() {
		x.raw = append(x.raw, v...)
	}
	values := string(x.raw)
	x.vals = x.vals[:0]
	var host string
	at := 0
	for k, v := range h.All() {
		value := values[at : at+len(v)]
		at += len(v)
		key := headerKey(k)
		switch {
		case key == "Connection" && !sentConnection(h.RawHeaders()):
			continue // fasthttp's own, for an HTTP/1.0 request
		case key == "Host":
			if host == "" {
				host = value
			}
			continue
		}
		if vv, ok := x.hdr[key]; ok {
			x.hdr[key] = append(vv, value) // a second field of the name: a slice of its own
			continue
		}
		i := len(x.vals)
		x.vals = append(x.vals, value)
		x.hdr[key] = x.vals[i : i+1 : i+1]
	}
	if u.Host != "" {
		host = u.Host // an absolute-form target's host wins over Host, as in net/http
	}
	body := ctx.PostBody()
	x.body.b.Reset(body)
	r := &x.req
	*r = http.Request{
		Method:        methodString(ctx.Method()),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        x.hdr,
		Body:          &x.body,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    s.remoteAddr(ctx),
		RequestURI:    target,
		Close:         h.ConnectionClose(),
	}
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	if s.base != context.Background() {
		r = r.WithContext(s.base)
	}
	return r, nil
}

// plainTarget reports whether a request target is an origin-form path,
// with or without a query, that url.ParseRequestURI would take apart
// without unescaping, re-escaping or refusing anything: the path only of
// letters, digits and the characters a path may hold as they are, the
// query of printable ASCII without '%' and '#', and not empty ("/p?"
// sets ForceQuery).
func plainTarget(t string) bool {
	if t == "" || t[0] != '/' || t[len(t)-1] == '?' {
		return false
	}
	inQuery := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c <= ' ' || c >= 0x7f || c == '%' || c == '#':
			return false
		case c == '?':
			inQuery = true
		case !inQuery && !pathByte(c):
			return false
		}
	}
	return true
}

// pathByte reports whether c stands for itself in a URL's path, as Go's
// url package writes a path back: letters, digits, "-._~" and
// "$&+,;=:@/" (RFC 3986's other sub-delims it escapes, so a path with
// them keeps a RawPath).
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~$&+,;=:@/", c) >= 0
}

// remoteAddr is the client's address as net/http gives it, made once per
// connection (track).
func (s *Server) remoteAddr(ctx *fasthttp.RequestCtx) string {
	if a, ok := s.conns.Load(ctx.Conn()); ok {
		return a.(string)
	}
	return ctx.RemoteAddr().String()
}

// sentConnection reports whether a request's raw header has a
// Connection field.
func sentConnection(raw []byte) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) > 11 && line[10] == ':' && bytes.EqualFold(line[:10], []byte("connection")) {
			return true
		}
	}
	return false
}

// body is a request's body over fasthttp's buffer, valid while the
// handler runs.
type body struct{ b bytes.Reader }

func (b *body) Read(p []byte) (int, error) { return b.b.Read(p) }
func (b *body) Close() error               { return nil }

// WriteTo lets io.Copy and io.ReadAll callers skip a buffer.
func (b *body) WriteTo(w io.Writer) (int64, error) { return b.b.WriteTo(w) }

// writer is the http.ResponseWriter of serveDirect: it keeps the header
// and status, and writes the body into fasthttp's response buffer.
type writer struct {
	ctx    *fasthttp.RequestCtx
	h      http.Header
	status int
	wrote  bool // the header is committed (WriteHeader or a first Write)
	sniff  bool // no Content-Type: one is sniffed from the body
}

func (w *writer) reset(ctx *fasthttp.RequestCtx) {
	w.ctx = ctx
	if w.h == nil {
		w.h = make(http.Header, 4)
	}
	w.status = 0
	w.wrote = false
	w.sniff = false
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(code int) {
	if w.wrote || code < 100 || code > 999 {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // an informational response: net/http would send it ahead; nothing waits for one here
	}
	w.status = code
	w.wrote = true
	_, has := w.h["Content-Type"]
	w.sniff = !has && bodyAllowed(code)
}

func (w *writer) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.ctx.Response.AppendBody(p)
	return len(p), nil
}

// WriteString spares io.WriteString a copy.
func (w *writer) WriteString(p string) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.ctx.Response.AppendBodyString(p)
	return len(p), nil
}

// finish writes the kept header and status into fasthttp's response.
func (w *writer) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	resp := &w.ctx.Response
	resp.SetStatusCode(w.status)
	for k, vv := range w.h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Date", "Trailer":
			// fasthttp frames the body it holds, and dates it.
			continue
		case "Content-Type":
			if len(vv) > 0 {
				resp.Header.SetContentType(vv[0])
			}
			continue
		case "Connection":
			for _, v := range vv {
				if strings.EqualFold(strings.TrimSpace(v), "close") {
					w.ctx.SetConnectionClose()
				}
			}
			continue
		}
		for _, v := range vv {
			resp.Header.Add(k, v)
		}
	}
	if w.sniff && len(resp.Body()) > 0 {
		b := resp.Body()
		resp.Header.SetContentType(http.DetectContentType(b[:min(len(b), 512)]))
	}
}

// bodyAllowed reports whether a response of status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// headerKey is fasthttp's normalized header name (Content-Type) as a
// string; the names Plivo and proxies send are interned, so that a
// request's header makes no string for its names.
func headerKey(k []byte) string {
	if s, ok := commonHeaders[string(k)]; ok {
		return s
	}
	return http.CanonicalHeaderKey(string(k))
}

var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Expect", "Forwarded", "Host",
		"If-None-Match", "Last-Event-Id", "Origin", "Referer", "Traceparent", "Tracestate",
		"User-Agent", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Plivo-Signature-V2", "X-Plivo-Signature-V2-Nonce", "X-Plivo-Signature-V3",
		"X-Plivo-Signature-Ma-V3", "X-Plivo-Signature-V3-Nonce", "X-Request-Id",
	} {
		m[k] = k
		m[http.CanonicalHeaderKey(k)] = http.CanonicalHeaderKey(k)
	}
	return m
}()

// methodString is a request's method as a string, without an allocation
// for the usual ones.
func methodString(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodPatch:
		return http.MethodPatch
	}
	return string(m)
}

// logger passes fasthttp's messages to slog.
type logger struct{ l *slog.Logger }

func (l logger) Printf(format string, args ...any) {
	l.l.Warn(fmt.Sprintf(format, args...), "component", "http")
}
