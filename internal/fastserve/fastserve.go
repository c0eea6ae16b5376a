// Package fastserve serves a net/http Handler over fasthttp's HTTP/1.1
// server, for flowd serve.
//
// Why: measured on one CPU with wrk, net/http spends about 16 µs of CPU
// per small keep-alive request (parsing a form and writing 518 bytes)
// where fasthttp spends about 5.8 µs (docs/store-engines.md, "The HTTP
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
//   - Requests Config.Stream names (the console's event stream) take the
//     connection over (serveStream, stream.go): the handler writes to it
//     as net/http's would, flushing as it goes, its context ends when the
//     client goes away, and the connection is closed after it. Such a
//     request takes no body (413).
//
// What a handler sees is what net/http gives it: Method, URL parsed from
// the raw request target, Proto, Header (canonical keys, Host taken out
// into r.Host, Transfer-Encoding into r.TransferEncoding), a Body read
// from the connection as the handler reads it (fasthttp does not buffer a
// body it was only told the length of), ContentLength (-1 when chunked),
// RemoteAddr, RequestURI, Close. Its context is context.Background() (or
// Config.Context's), not cancelled when the client goes away (a stream's
// is); when
// the request names no host, it carries http.LocalAddrContextKey, the
// address it reached, where net/http always puts it. As with net/http,
// the header is sent as it was at WriteHeader, invalid fields left out,
// and a response without a Content-Type gets one sniffed from its first
// 512 bytes (unless it has a Content-Encoding); Content-Length is the
// body's. A handler that panics has its connection closed with nothing
// sent. A handler must not keep the request or the writer after it
// returns: both are reused.
//
// A body that ends before its Content-Length reads as
// io.ErrUnexpectedEOF; a Transfer-Encoding other than chunked is 501 and
// a malformed Host 400, as in net/http (fasthttp would read such a body
// as none, and what follows as the next request; it lets a Host of any
// bytes through); a header of more than 128 fields is 431. Accept errors for want of descriptors or memory
// are retried, as net/http retries them, rather than ending Serve.
//
// Where fasthttp differs from net/http and this package leaves it: a
// request's header must arrive within ReadTimeout with its body (net/http
// flowd serve gives the header 5 s of its 10); fasthttp's parser accepts
// a space in a header's name and an HTTP/2.0 request line, which net/http
// refuses; fasthttp sends 100 Continue before the
// handler runs; repeated User-Agent or Cookie fields reach the handler as
// one.
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// Config is a Server's settings. The zero durations and sizes take the
// defaults of flowd serve's net/http server.
type Config struct {
	Handler http.Handler
	// Stream reports whether a request (by method and path) is served
	// through fasthttpadaptor, whose writer flushes: responses streamed
	// as they are written (server-sent events).
	Stream func(method, path []byte) bool
	// ReadTimeout bounds reading a request, header and body (default
	// 10 s); WriteTimeout writing its response (15 s); IdleTimeout how
	// long a kept-alive connection waits for its next request (120 s).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (default 16 KiB; a larger
	// header is answered 431). fasthttp keeps a read buffer of this size
	// for each connection reading a request: keep it small. Bodies are
	// the handler's to limit (http.MaxBytesReader), as under net/http.
	MaxHeaderBytes int
	// Logger gets a handler's panics (Warn) and fasthttp's messages about
	// clients (Debug).
	Logger *slog.Logger
	// Context, when set, makes the context of the requests one pooled
	// exchange serves, once, when the exchange is made; each request it
	// serves after that has that same context (a request that names no
	// host gets it with http.LocalAddrContextKey added). It is for a
	// handler that keeps a request's own state in its context and resets
	// it at each request (runtime.Server.RequestContext): such a context
	// costs the handler no copy of the request to add. The handler must
	// not keep it past a request, as it must not keep the request.
	Context func() context.Context
}

// Server is an HTTP/1.1 server for an http.Handler.
type Server struct {
	cfg     Config
	fs      *fasthttp.Server
	log     *slog.Logger
	pool    sync.Pool // *exchange
	onClose []func()

	conns   sync.Map // the open connections (net.Conn), each with its RemoteAddr string
	streams sync.Map // the connections Stream requests took over (net.Conn)

	mu       sync.Mutex
	lns      []net.Listener // those Serve serves, for Shutdown
	shutdown bool           // Shutdown was called: Serve serves no more
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger}
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
	s.fs = &fasthttp.Server{
		Handler:        s.serve,
		ReadTimeout:    or(cfg.ReadTimeout, 10*time.Second),
		WriteTimeout:   or(cfg.WriteTimeout, 15*time.Second),
		IdleTimeout:    or(cfg.IdleTimeout, 120*time.Second),
		ReadBufferSize: orInt(cfg.MaxHeaderBytes, 16<<10),
		// With StreamRequestBody, fasthttp reads at most 8 KiB of a body
		// ahead of the handler, and streams the rest whatever its length.
		MaxRequestBodySize: 1 << 20,
		Logger:             logger{s.log},
		// A body is read as the handler reads it, not allocated from a
		// Content-Length the client may never send: net/http's way.
		StreamRequestBody: true,
		// An idle connection gives its write buffer and its request's
		// and response's buffers back: 500 of them after 1 MB bodies held
		// 668 MB without. (With StreamRequestBody fasthttp keeps the read
		// buffer of MaxHeaderBytes: about 21 KB an idle connection,
		// against net/http's 14.)
		ReduceMemoryUsage: true,
		// fasthttp's messages quote no request: they may carry
		// credentials.
		SecureErrorLogMessage:         true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		ConnState:                     s.track,
		ErrorHandler:                  requestError,
	}
	s.pool.New = func() any {
		x := new(exchange)
		if cfg.Context != nil {
			x.blank = *(&http.Request{}).WithContext(cfg.Context())
		}
		return x
	}
	return s
}

// Serve accepts connections on ln until Shutdown; it returns nil then,
// and the listener's error otherwise.
//
// It keeps ln for Shutdown, which closes it: fasthttp's Shutdown closes
// only the listeners its Serve has registered, so one that ran between
// this Serve's start and that registration would leave Serve accepting.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	err := s.fs.Serve(retryListener{ln, s.log})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return nil // the listener closed by Shutdown
	}
	return err
}

// retryListener retries an Accept that failed for want of resources
// (file descriptors, buffers), as net/http's Serve does, where fasthttp
// would return the error and stop serving; on Linux, the connections it
// accepts read and write with raw system calls (rawconn_linux.go).
type retryListener struct {
	net.Listener
	log *slog.Logger
}

func (l retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return wrapConn(c), nil // raw reads and writes (rawconn_linux.go)
		}
		if !(errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
			errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)) {
			return c, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		l.log.Warn("accepting a connection failed; retrying", "err", err, "in", delay.String())
		time.Sleep(delay)
	}
}

// RegisterOnShutdown has f called when Shutdown starts, as
// http.Server.RegisterOnShutdown: to end streams that would never end by
// themselves.
func (s *Server) RegisterOnShutdown(f func()) { s.onClose = append(s.onClose, f) }

// Shutdown stops accepting connections, closes the idle ones, and waits
// for the requests under way to be answered (their connections then
// closed), until ctx ends: it returns ctx's error then, with those
// connections left open.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	lns := s.lns
	s.mu.Unlock()
	for _, f := range s.onClose {
		f()
	}
	err := s.fs.ShutdownWithContext(ctx)
	for _, ln := range lns {
		_ = ln.Close() // closed already, unless fasthttp had not registered it
	}
	return err
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

// Close closes every connection still open, answered or not, streams
// too: after a Shutdown whose wait ran out.
func (s *Server) Close() error {
	for _, m := range []*sync.Map{&s.conns, &s.streams} {
		m.Range(func(c, _ any) bool {
			_ = c.(net.Conn).Close()
			return true
		})
	}
	return nil
}

// serve is the fasthttp handler: a request Config.Stream names takes its
// connection over (serveStream), any other is served by serveDirect.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	if s.cfg.Stream != nil && s.cfg.Stream(ctx.Method(), ctx.Path()) {
		s.serveStream(ctx)
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
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		ctx.Error("501 Not Implemented: unsupported transfer encoding", http.StatusNotImplemented)
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
	te    []string // the request's TransferEncoding
	req   http.Request
	blank http.Request // a request of nothing but Config.Context's context, or none
	// target is the request target of the last request served, kept
	// after it (a string: nothing changes it).
	target string
	url    url.URL
	hdr    http.Header
	raw    []byte   // the header's values, copied together
	vals   []string // the header's values, each field's slice a part of it
	body   body
	w      writer
}

// serveDirect runs the handler on ctx's goroutine with a request and a
// writer made from ctx, then writes the response the writer kept.
func (s *Server) serveDirect(ctx *fasthttp.RequestCtx) {
	x := s.pool.Get().(*exchange)
	r, err := s.request(ctx, x)
	if err != nil {
		badRequest(ctx, err)
		s.release(x)
		return
	}
	w := &x.w
	w.reset(ctx, r.Method == http.MethodHead)
	if !s.run(w, r) {
		// The handler panicked: as with net/http, the client gets
		// nothing and the connection is closed.
		ctx.Response.Reset()
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) { _ = c.Close() })
		s.release(x)
		return
	}
	w.finish()
	if r.Close {
		ctx.SetConnectionClose()
	}
	s.release(x)
}

// maxHeaderFields bounds a request's header fields (Plivo sends about 12,
// a browser 20).
const maxHeaderFields = 128

// errTooManyFields is a request's header of more than maxHeaderFields.
var errTooManyFields = errors.New("too many header fields")

// errHost is a request's Host that is no valid host (net/http: 400).
var errHost = errors.New("malformed Host header")

// errTransferEncoding is a request's Transfer-Encoding other than
// chunked.
var errTransferEncoding = errors.New("unsupported transfer encoding")

// badRequest answers a request refused before its handler, and closes
// its connection: 431 for more than maxHeaderFields fields (net/http has
// no such bound, only its byte limit), 501 for a transfer encoding other
// than chunked, 400 for a malformed Host or a target that cannot be
// parsed, as net/http answers them.
func badRequest(ctx *fasthttp.RequestCtx, err error) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	switch err {
	case errTooManyFields:
		ctx.SetStatusCode(http.StatusRequestHeaderFieldsTooLarge)
		ctx.SetBodyString("431 Request Header Fields Too Large: " + err.Error())
	case errTransferEncoding:
		ctx.SetStatusCode(http.StatusNotImplemented)
		ctx.SetBodyString("501 Not Implemented: " + err.Error())
	default:
		ctx.SetStatusCode(http.StatusBadRequest)
		ctx.SetBodyString("400 Bad Request: " + err.Error())
	}
	ctx.SetConnectionClose()
}

// run serves r, reporting false when the handler panicked (it is logged,
// as net/http logs it, unless it is http.ErrAbortHandler).
func (s *Server) run(w http.ResponseWriter, r *http.Request) (ok bool) {
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
	x.te = nil
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
	// The target made for the request before when it is the same (a
	// flow's answer URL is every call's): a string less per request.
	target := x.target
	if uri := ctx.RequestURI(); string(uri) != target {
		target = string(uri)
		x.target = target
	}
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
	if bytes.Count(h.RawHeaders(), []byte{'\n'}) > maxHeaderFields {
		// Before h.All, whose cookie collection, and the look-ups below,
		// cost the square of the fields.
		return nil, errTooManyFields
	}
	// The values, copied into one string: a request's header is one
	// allocation rather than one per field.
	x.raw = x.raw[:0]
	for _, v := range h.All() {
		x.raw = append(x.raw, v...)
	}
	values := string(x.raw)
	x.vals = x.vals[:0]
	var host string
	// Whether the raw header has a field, looked up once a name.
	var connSent, lengthSent int8 // 0 unknown, 1 yes, -1 no
	sent := func(known *int8, name string) bool {
		if *known == 0 {
			*known = -1
			if sentField(h.RawHeaders(), name) {
				*known = 1
			}
		}
		return *known > 0
	}
	at := 0
	for k, v := range h.All() {
		value := values[at : at+len(v)]
		at += len(v)
		key := headerKey(k)
		switch {
		case key == "Connection" && !sent(&connSent, "Connection"), key == "Content-Length" && !sent(&lengthSent, "Content-Length"):
			continue // fasthttp's own: an HTTP/1.0 request's, a POST's without a body
		case key == "Transfer-Encoding":
			x.te = chunked // net/http takes it out of the header
			continue
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
	if !httpguts.ValidHostHeader(host) {
		return nil, errHost // net/http's 400, before a handler builds a URL from it
	}
	if u.Host != "" {
		host = u.Host // an absolute-form target's host wins over Host, as in net/http
	}
	length := int64(h.ContentLength())
	if x.te == nil && sentField(h.RawHeaders(), "Transfer-Encoding") {
		// A coding other than chunked (fasthttp keeps chunked alone):
		// fasthttp reads its body as none, and would take what follows
		// for the next request. net/http answers 501.
		return nil, errTransferEncoding
	}
	switch {
	case length == -1 || x.te != nil:
		length = -1 // chunked: read to its end
	case length < 0:
		length = 0 // -2: no body
	}
	x.body.left = length
	x.body.r = ctx.RequestBodyStream()
	if x.body.r == nil { // a body fasthttp read whole (a small one)
		x.body.b.Reset(ctx.Request.Body())
		x.body.r = &x.body.b
	}
	r := &x.req
	*r = x.blank // its context, unexported, comes only this way
	r.Method = methodString(ctx.Method())
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = x.hdr
	r.Body = &x.body
	r.ContentLength = length
	r.TransferEncoding = x.te
	r.Host = host
	r.RemoteAddr = s.remoteAddr(ctx)
	r.RequestURI = target
	r.Close = h.ConnectionClose()
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	if length == 0 {
		r.Body = http.NoBody
	}
	if host == "" {
		// Where the request came in: a handler names the server by it
		// when the client named none (an HTTP/1.0 request).
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, ctx.LocalAddr()))
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

// chunked is a chunked request's TransferEncoding.
var chunked = []string{"chunked"}

// sentField reports whether a request's raw header has a field of the
// (canonical) name.
func sentField(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			return true
		}
	}
	return false
}

// body is a request's body: fasthttp's stream of it, or a reader over the
// bytes fasthttp read with the header; valid while the handler runs.
type body struct {
	r    io.Reader
	b    bytes.Reader
	left int64 // of a body of known length, the bytes not yet read; -1 when chunked
}

// Read reads the body; one that ends before its Content-Length (the
// client went away) is io.ErrUnexpectedEOF, as in net/http: fasthttp's
// stream reports io.EOF then.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
		if err == io.EOF && b.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}
func (b *body) Close() error { return nil }

// writer is the http.ResponseWriter of serveDirect: it writes the header
// and status into fasthttp's response when they are committed
// (WriteHeader, or a first Write), and the body into its buffer.
type writer struct {
	ctx    *fasthttp.RequestCtx
	h      http.Header
	status int
	head   bool // a HEAD request's response: a Content-Length the handler gives is kept
	wrote  bool // the header is committed
	sniff  bool // no Content-Type: one is sniffed from the body
}

func (w *writer) reset(ctx *fasthttp.RequestCtx, head bool) {
	w.ctx = ctx
	if w.h == nil {
		w.h = make(http.Header, 4)
	}
	w.status = 0
	w.head = head
	w.wrote = false
	w.sniff = false
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(code int) {
	checkWriteHeaderCode(code)
	if w.wrote {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // an informational response: net/http would send it ahead; nothing waits for one here
	}
	w.status = code
	w.wrote = true
	resp := &w.ctx.Response
	resp.SetStatusCode(code)
	w.sniff = writeHeader(w.h, code, w.head, func(k, v string) {
		switch k {
		case "Content-Type":
			resp.Header.SetContentType(v)
		case "Connection":
			if strings.EqualFold(strings.TrimSpace(v), "close") {
				w.ctx.SetConnectionClose()
			}
		case "Content-Length":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				resp.Header.SetContentLength(n)
			}
		default:
			resp.Header.Add(k, v)
		}
	})
}

// fieldValue is a header value as net/http writes it: line breaks made
// spaces (no response splitting), spaces and tabs trimmed.
func fieldValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return strings.Trim(v, " \t")
}

// checkWriteHeaderCode panics on a status net/http panics on.
func checkWriteHeaderCode(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
}

// writeHeader passes the fields of h a response of status sends to add,
// as net/http would send them: without invalid names, line breaks in
// values made spaces and the values trimmed, without the
// fields the server frames and dates the body with (a HEAD's
// Content-Length excepted), Content-Type once. It reports whether the
// body's type is to be sniffed: no Content-Type, no Content-Encoding, and
// a status with a body.
func writeHeader(h http.Header, status int, head bool, add func(k, v string)) (sniff bool) {
	_, typed := h["Content-Type"]
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		switch k {
		case "Content-Length":
			if head && len(vv) > 0 {
				add(k, fieldValue(vv[0]))
			}
			continue
		case "Transfer-Encoding", "Date", "Trailer":
			continue
		case "Content-Type":
			if len(vv) > 0 {
				add(k, fieldValue(vv[0]))
			}
			continue
		}
		for _, v := range vv {
			add(k, fieldValue(v))
		}
	}
	return !typed && h.Get("Content-Encoding") == "" && bodyAllowed(status)
}

// startBody commits the header (status 200) if the handler did not, and
// says whether the response may have a body.
func (w *writer) startBody() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return http.ErrBodyNotAllowed
	}
	return nil
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	w.ctx.Response.AppendBody(p)
	return len(p), nil
}

// WriteString spares io.WriteString a copy.
func (w *writer) WriteString(p string) (int, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	w.ctx.Response.AppendBodyString(p)
	return len(p), nil
}

// finish commits the header if the handler did not, and sniffs the
// body's type when it has none.
func (w *writer) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	resp := &w.ctx.Response
	if b := resp.Body(); w.sniff && len(b) > 0 {
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
	for _, known := range methods {
		if string(m) == known {
			return known
		}
	}
	return string(m)
}

var methods = []string{http.MethodPost, http.MethodGet, http.MethodHead, http.MethodPut,
	http.MethodDelete, http.MethodOptions, http.MethodPatch}

// logger passes fasthttp's messages to slog, at Debug: they are about
// clients (a connection reset, a request it could not read), of which
// net/http logs nothing, and any client may cause them. An error of the
// server's own (the listener failing) Serve returns.
type logger struct{ l *slog.Logger }

func (l logger) Printf(format string, args ...any) {
	if l.l.Enabled(context.Background(), slog.LevelDebug) {
		l.l.Debug(fmt.Sprintf(format, args...), "component", "http")
	}
}
