package fastserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seen is what a handler saw of a request.
type seen struct {
	Method, Path, RawPath, RawQuery, Host, Proto, RequestURI, Body, Form string
	Header                                                               http.Header
	ContentLength                                                        int64
	Close                                                                bool
	RemoteHost                                                           string
	TransferEncoding                                                     []string
	LocalAddr                                                            bool // http.LocalAddrContextKey is set
}

// recorder is a handler that keeps what it saw and answers as the path
// says.
type recorder struct {
	mu   sync.Mutex
	last seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h := r.Header.Clone()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	s := seen{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		Host: r.Host, Proto: r.Proto, RequestURI: r.RequestURI, Body: string(b), Header: h,
		ContentLength: r.ContentLength, Close: r.Close, RemoteHost: host, TransferEncoding: r.TransferEncoding,
	}
	_, s.LocalAddr = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if r.Host != "" {
		s.LocalAddr = false // net/http always sets it; fastserve when the request names no host
	}
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		if err := r.ParseForm(); err == nil {
			s.Form = fmt.Sprint(r.PostForm)
		}
	}
	rec.mu.Lock()
	rec.last = s
	rec.mu.Unlock()
	switch r.URL.Path {
	case "/xml":
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, "<Response><Speak>hi</Speak></Response>")
	case "/sniff":
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>hello</body></html>"))
	case "/error":
		http.Error(w, "no such flow", http.StatusNotFound)
	case "/created":
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
		if _, err := w.Write([]byte("x")); err != http.ErrBodyNotAllowed {
			panic(fmt.Sprintf("a 204's body: %v, want ErrBodyNotAllowed", err))
		}
	case "/empty":
	case "/twice":
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusTeapot) // superfluous: ignored
	case "/close":
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("bye"))
	case "/panic":
		_, _ = w.Write([]byte("half"))
		panic("boom")
	case "/abort":
		panic(http.ErrAbortHandler)
	case "/late-header":
		w.Header().Set("X-Early", "1")
		w.WriteHeader(http.StatusOK)
		w.Header().Set("X-Late", "1") // after the header is sent: not sent
		_, _ = w.Write([]byte("ok"))
	case "/bad-header":
		w.Header().Set("Bad Name", "x")
		w.Header()["X-Bad-Value"] = []string{"a\r\nb"}
		w.Header().Set("X-Good", "y")
		_, _ = w.Write([]byte("ok"))
	case "/gzip":
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	case "/head-length":
		w.Header().Set("Content-Length", "38")
	case "/local":
		host := r.Host
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && host == "" {
			host = "local " + a.Network()
		}
		_, _ = fmt.Fprint(w, host)
	default:
		_, _ = fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}
}

func (rec *recorder) seen() seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.last
}

// startFast serves h with fastserve on a loopback port.
func startFast(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// dial connects to addr with a 5 s deadline, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// roundTrip writes raw on a new connection and reads one response.
func roundTrip(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	method, _, _ := strings.Cut(raw, " ")
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response to %q: %v", raw, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of the response to %q: %v", raw, err)
	}
	return resp, string(b)
}

// sideBySide serves one recorder with net/http and another with
// fastserve until the test ends, and returns them and their addresses.
func sideBySide(t *testing.T) (stdRec, fastRec *recorder, stdAddr, fastAddr string) {
	t.Helper()
	stdRec, fastRec = &recorder{}, &recorder{}
	std := httptest.NewServer(stdRec)
	t.Cleanup(std.Close)
	_, fastAddr = startFast(t, Config{Handler: fastRec})
	return stdRec, fastRec, strings.TrimPrefix(std.URL, "http://"), fastAddr
}

// TestSameAsNetHTTP sends the same raw requests to one handler served by
// net/http and by fastserve, and compares what the handler saw and what
// the client got.
func TestSameAsNetHTTP(t *testing.T) {
	stdRec, fastRec, stdAddr, fastAddr := sideBySide(t)

	form := "CallUUID=abc-123&From=%2B14155550100&To=%2B14155550199&Digits=1%23&Empty="
	requests := []struct{ name, raw string }{
		{"form post", "POST /flows/ivr/answer HTTP/1.1\r\nHost: flowd.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"X-Plivo-Signature-V3: sig==\r\nX-Plivo-Signature-V3-Nonce: 123\r\nUser-Agent: PlivoHTTP\r\nx-forwarded-proto: https\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(form), form)},
		{"query get", "GET /flows/ivr/answer?CallUUID=abc&From=%2B1&x=a+b HTTP/1.1\r\nHost: h:8080\r\n\r\n"},
		{"escaped path", "GET /flows/a%2Fb/answer HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"dot segments", "GET /flows/../v1/calls/x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"absolute form", "GET http://proxy.example/v1/flows?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"},
		{"repeated header", "GET /v1/flows HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nforwarded: for=1.2.3.4\r\n\r\n"},
		{"http 1.0", "GET /v1/flows HTTP/1.0\r\nHost: h\r\n\r\n"},
		{"connection close", "GET /v1/flows HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{"head", "HEAD /xml HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"xml", "POST /xml HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
		{"sniffed", "GET /sniff HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"http.Error", "GET /error HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"status and headers", "POST /created HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"},
		{"204", "GET /nocontent HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"nothing written", "GET /empty HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"superfluous WriteHeader", "GET /twice HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"handler closes", "GET /close HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"post without a body", "POST /x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"no host", "GET /local HTTP/1.0\r\n\r\n"},
		{"header after WriteHeader", "GET /late-header HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"invalid header fields", "GET /bad-header HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"encoded body", "GET /gzip HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"HEAD with a length", "HEAD /head-length HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"chunked body", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\na=1&b\r\n3\r\n=22\r\n0\r\n\r\n"},
	}
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			stdResp, stdBody := roundTrip(t, stdAddr, rq.raw)
			fastResp, fastBody := roundTrip(t, fastAddr, rq.raw)
			if stdResp.StatusCode != fastResp.StatusCode || stdBody != fastBody {
				t.Errorf("response:\n net/http %d %q\n fastserve %d %q", stdResp.StatusCode, stdBody, fastResp.StatusCode, fastBody)
			}
			for _, h := range []http.Header{stdResp.Header, fastResp.Header} {
				h.Del("Date")
				if strings.HasPrefix(rq.raw, "HEAD /xml") {
					// net/http leaves a HEAD's length out, fasthttp
					// gives the body's: both are HTTP.
					h.Del("Content-Length")
				}
				for k, v := range h {
					slices.Sort(v)
					h[k] = v
				}
			}
			if fmt.Sprint(stdResp.Header) != fmt.Sprint(fastResp.Header) {
				t.Errorf("response header:\n net/http  %v\n fastserve %v", stdResp.Header, fastResp.Header)
			}
			if stdResp.Close != fastResp.Close {
				t.Errorf("connection closed after the response: net/http %v, fastserve %v", stdResp.Close, fastResp.Close)
			}
			a, b := stdRec.seen(), fastRec.seen()
			if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
				t.Errorf("the handler saw:\n net/http  %+v\n fastserve %+v", a, b)
			}
		})
	}
}

// TestKeepAlive: a connection serves request after request, each seen
// with its own header and body (the pooled request is reset in between).
func TestKeepAlive(t *testing.T) {
	var rec recorder
	_, addr := startFast(t, Config{Handler: &rec})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for i := range 5 {
		extra := ""
		if i%2 == 0 {
			extra = "X-Only-Even: yes\r\n"
		}
		body := strings.Repeat("x", i*100)
		fmt.Fprintf(c, "POST /p%d HTTP/1.1\r\nHost: h\r\n%sContent-Length: %d\r\n\r\n%s", i, extra, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("POST /p%d", i); string(b) != want {
			t.Errorf("request %d: %q, want %q", i, b, want)
		}
		s := rec.seen()
		if s.Body != body || (s.Header.Get("X-Only-Even") != "") != (i%2 == 0) {
			t.Errorf("request %d seen with body of %d bytes and X-Only-Even %q", i, len(s.Body), s.Header.Get("X-Only-Even"))
		}
	}
}

// TestPanic: a handler's panic closes its connection with nothing sent
// (what it wrote is dropped), is logged (unless
// it is http.ErrAbortHandler), and the server serves the next request.
func TestPanic(t *testing.T) {
	var rec recorder
	var logs strings.Builder
	var mu sync.Mutex
	log := slogTo(&mu, &logs)
	_, addr := startFast(t, Config{Handler: &rec, Logger: log})
	for _, path := range []string{"/panic", "/abort"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path)
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("%s: the client read %q (%v), want nothing and the connection closed", path, b, err)
		}
		c.Close()
	}
	if resp, body := roundTrip(t, addr, "GET /after HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || body != "GET /after" {
		t.Errorf("after the panics: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := logs.String(); strings.Count(got, "panic serving a request") != 1 || !strings.Contains(got, "boom") {
		t.Errorf("logs: %s\nwant the one panic, boom, logged", got)
	}
}

// TestLimits: a header past MaxHeaderBytes is 431 and never reaches the
// handler; a body is the handler's to limit (http.MaxBytesReader), as
// under net/http, and reaches it as it arrives, so a Content-Length
// alone reserves nothing; a stream takes no body (413).
func TestLimits(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		r.Body = http.MaxBytesReader(w, r.Body, 1000)
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.WriteString(w, "read")
	})
	_, addr := startFast(t, Config{Handler: h, MaxHeaderBytes: 4096,
		Stream: func(_, path []byte) bool { return string(path) == "/stream" }})
	big := strings.Repeat("a", 5000)
	if resp, _ := roundTrip(t, addr, "GET /header HTTP/1.1\r\nHost: h\r\nX-Big: "+big+"\r\n\r\n"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 5 KB header: %d, want 431", resp.StatusCode)
	}
	if resp, body := roundTrip(t, addr, fmt.Sprintf("POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(big), big)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 5 KB body to a handler reading at most 1000 bytes: %d %q, want its 413", resp.StatusCode, body)
	}
	if resp, body := roundTrip(t, addr, fmt.Sprintf("POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", 900, big[:900])); resp.StatusCode != http.StatusOK || body != "read" {
		t.Errorf("a 900-byte body: %d %q", resp.StatusCode, body)
	}
	for _, framing := range []string{"Content-Length: 5\r\n\r\nabcde", "Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"} {
		if resp, _ := roundTrip(t, addr, "GET /stream HTTP/1.1\r\nHost: h\r\n"+framing); resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Errorf("a body to a stream (%q): %d close=%v, want 413 and the connection closed", framing, resp.StatusCode, resp.Close)
		}
	}

	// A declared body that does not come whole: the handler is reached
	// once its first part is there (fasthttp reads 8 KiB ahead, no
	// buffer of the declared size), and reads the rest as it comes, as
	// under net/http.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /declared HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n%s", big[:5000]+big[:3192])
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		reached := slices.Contains(paths, "/declared")
		mu.Unlock()
		if reached || time.Now().After(deadline) {
			if !reached {
				t.Error("a request whose body is still coming did not reach the handler")
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(paths, "/header") || slices.Contains(paths, "/stream") {
		t.Errorf("the handler was reached by %v", paths)
	}
}

// TestStream: a request Config.Stream names is flushed as it is written:
// the client reads the first event while the handler still runs, past
// the server's write timeout once the handler lifted it; the handler's
// context ends when the client goes away; RegisterOnShutdown's function
// ends a stream at Shutdown.
func TestStream(t *testing.T) {
	end := make(chan struct{})
	gone := make(chan string, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				gone <- "write failed"
				return
			}
			select {
			case <-end:
				return
			case <-r.Context().Done():
				gone <- "context ended"
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Handler: h, WriteTimeout: 100 * time.Millisecond, Stream: func(method, path []byte) bool { return string(path) == "/events" }})
	var once sync.Once
	s.RegisterOnShutdown(func() { once.Do(func() { close(end) }) })
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	open := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || !resp.Close {
			t.Errorf("Content-Type %q, close %v", ct, resp.Close)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "data: 0\n" {
			t.Fatalf("first event %q, %v: want data: 0 while the handler runs", line, err)
		}
		return c, br
	}

	// A client that goes away ends its handler's context.
	c, _ := open()
	c.Close()
	select {
	case why := <-gone:
		if why != "context ended" {
			t.Errorf("the stream ended by %s, want its context ended", why)
		}
	case <-time.After(2 * time.Second):
		t.Error("the handler's context did not end when the client went away")
	}

	// A client that stays reads on past the write timeout (100 ms).
	c, br := open()
	defer c.Close()
	for last := ""; last != "data: 15\n"; { // 300 ms and more
		if last, err = br.ReadString('\n'); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v (the stream should have ended)", err)
	}
	if rest, err := io.ReadAll(br); err != nil {
		t.Errorf("after Shutdown the stream did not end cleanly: %v (read %q)", err, rest)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestShutdown: Shutdown waits for a request under way and its answer
// reaches the client; a Shutdown whose context ends first says so, and
// Close then closes the connection.
func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		release bool
	}{{"drained", 5 * time.Second, true}, {"abandoned", 200 * time.Millisecond, false}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				<-release
				_, _ = w.Write([]byte("done"))
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s := New(Config{Handler: h})
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			<-started
			got := make(chan string, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				got <- string(b)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), tc.wait)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(ctx) }()
			if tc.release {
				time.Sleep(50 * time.Millisecond)
				close(release)
				if err := <-shut; err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				if b := <-got; b != "done" {
					t.Errorf("the answer under way: %q, want done", b)
				}
			} else {
				if err := <-shut; err != context.DeadlineExceeded {
					t.Errorf("Shutdown: %v, want its context's deadline", err)
				}
				_ = s.Close()
				if b := <-got; !strings.HasPrefix(b, "error") {
					t.Errorf("after Close the client read %q, want its connection closed", b)
				}
				release <- struct{}{} // let the handler end
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				t.Error("a connection was accepted after Shutdown")
			}
		})
	}
}

// slogTo is a logger writing text lines to b, under mu.
func slogTo(mu *sync.Mutex, b *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, b}, nil))
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestPlainTarget: a target plainTarget lets through is taken apart as
// url.ParseRequestURI takes it.
func TestPlainTarget(t *testing.T) {
	targets := []string{
		"/", "/flows/ivr/answer", "/flows/ivr/answer?CallUUID=abc&x=a+b", "//double", "/a/../b", "/p?",
		"/p?q#frag", "/a%2Fb", "/p?x=%41", "/sp ace", "/tab\t", "*", "http://h/p", "/p?a?b", "/ü",
	}
	for c := range 256 {
		targets = append(targets, "/a"+string(rune(c))+"b", "/a?b"+string(rune(c)), "/a"+string([]byte{byte(c)}))
	}
	for _, target := range targets {
		want, err := url.ParseRequestURI(target)
		if !plainTarget(target) {
			continue
		}
		if err != nil {
			t.Errorf("%q: plain, but ParseRequestURI refuses it: %v", target, err)
			continue
		}
		var x exchange
		got := &x.url
		if path, query, ok := strings.Cut(target, "?"); ok {
			*got = url.URL{Path: path, RawQuery: query}
		} else {
			*got = url.URL{Path: path}
		}
		if *got != *want {
			t.Errorf("%q: %#v, ParseRequestURI %#v", target, *got, *want)
		}
	}
}

// TestStreamAnsweredAtOnce: a Stream request the handler answers at once
// (a 401, a 503), the client still connected, many at a time. The
// connection's reader must be done with it before fasthttp takes it
// back: reading it after that crashed the process.
func TestStreamAnsweredAtOnce(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"no"}`)
	})
	_, addr := startFast(t, Config{Handler: h, Stream: func(_, path []byte) bool { return string(path) == "/events" }})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Error(err)
					c.Close()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusUnauthorized || string(b) != `{"error":"no"}` {
					t.Errorf("%d %q", resp.StatusCode, b)
				}
				c.Close()
			}
		})
	}
	wg.Wait()
}

// TestCloseEndsStreams: Close closes a stream's connection, so a handler
// blocked writing to a client that never reads (its write deadline
// lifted, as the console lifts it) returns.
func TestCloseEndsStreams(t *testing.T) {
	ended := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		b := make([]byte, 64<<10)
		for {
			if _, err := w.Write(b); err != nil || rc.Flush() != nil {
				return
			}
		}
	})
	s, addr := startFast(t, Config{Handler: h, Stream: func(_, path []byte) bool { return string(path) == "/events" }})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(300 * time.Millisecond) // the handler blocks in a write by now
	_ = s.Close()
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Error("Close did not end a stream blocked in a write")
	}
}

// TestTruncatedBody: a body that ends before its Content-Length (the
// client went away) reads as io.ErrUnexpectedEOF, as under net/http,
// however much of it came; fasthttp's own stream reports io.EOF.
func TestTruncatedBody(t *testing.T) {
	got := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	_, addr := startFast(t, Config{Handler: h})
	for _, sent := range []int{10, 9000, 20000} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("a", sent))
		time.Sleep(50 * time.Millisecond)
		_ = c.(*net.TCPConn).CloseWrite()
		select {
		case err := <-got:
			if err != io.ErrUnexpectedEOF {
				t.Errorf("%d of 100,000 bytes, then the client closed: the handler read %v, want io.ErrUnexpectedEOF", sent, err)
			}
		case <-time.After(2 * time.Second):
			if sent >= 8192 {
				t.Errorf("%d bytes sent: the handler did not run", sent)
			} // less than fasthttp reads ahead: refused before the handler, fine
		}
		c.Close()
	}
}

// TestTransferEncodingIdentity: a Transfer-Encoding other than chunked is
// 501 and closes the connection (fasthttp would read its body as none,
// and what follows as the next request).
func TestTransferEncodingIdentity(t *testing.T) {
	var rec recorder
	_, addr := startFast(t, Config{Handler: &rec})
	c := dial(t, addr)
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
	all, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(all), "HTTP/1.1 501") || strings.Count(string(all), "HTTP/1.1 ") != 1 {
		t.Errorf("the connection read %q, want one 501 and its close", all)
	}
	if p := rec.seen().Path; p != "" {
		t.Errorf("the handler saw %s", p)
	}
}

// TestShutdownAtOnce: a Shutdown that comes right after Serve started, or
// before it, ends it: fasthttp's own closes only the listeners its Serve
// had registered by then, and one that came earlier left Serve accepting
// for ever (flowd serve, stopped at once, never exited).
func TestShutdownAtOnce(t *testing.T) {
	for i := range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New(Config{Handler: http.NotFoundHandler()})
		served := make(chan error, 1)
		if i%2 == 0 {
			go func() { served <- s.Serve(ln) }()
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if i%2 == 1 {
			go func() { served <- s.Serve(ln) }()
		}
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Serve did not return after Shutdown", i)
		}
	}
}

// TestRefusedBeforeTheHandler: what net/http refuses before a handler
// runs is refused here too, the connection closed: every Transfer-Encoding
// it does not implement (501, or its 400 where it gives one), a malformed
// Host (400); and a header of more than 128 fields is 431 (fasthttp's
// cookie collection and the bridge's look-ups would otherwise cost the
// square of the fields).
func TestRefusedBeforeTheHandler(t *testing.T) {
	_, fastRec, stdAddr, fast := sideBySide(t)
	var requests []string
	for _, te := range []string{
		"Transfer-Encoding: identity\r\nContent-Length: 5",
		"Content-Length: 5\r\nTransfer-Encoding: identity",
		"Transfer-Encoding: gzip, chunked",
		"Transfer-Encoding: chunked, identity",
		"Transfer-Encoding: gzip",
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
	} {
		requests = append(requests, "POST /x HTTP/1.1\r\nHost: h\r\n"+te+"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	}
	for _, host := range []string{`e"><x>`, "a{b}", "a|b", "a\\b", "a^b", "a`b"} {
		requests = append(requests, "GET /h HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	}
	for _, raw := range requests {
		sr, _ := roundTrip(t, stdAddr, raw)
		fr, body := roundTrip(t, fast, raw)
		if fr.StatusCode != sr.StatusCode || !fr.Close {
			t.Errorf("%q: fastserve %d %q (close %v), net/http %d", raw, fr.StatusCode, body, fr.Close, sr.StatusCode)
		}
	}
	var many strings.Builder
	many.WriteString("GET /many HTTP/1.1\r\nHost: h\r\n")
	for range 200 {
		many.WriteString("Cookie: a\r\n")
	}
	many.WriteString("\r\n")
	if fr, body := roundTrip(t, fast, many.String()); fr.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !fr.Close {
		t.Errorf("200 Cookie fields: %d %q (close %v), want 431", fr.StatusCode, body, fr.Close)
	}
	if p := fastRec.seen().Path; p != "" {
		t.Errorf("the handler ran for %s", p)
	}
}

// ctxKey is TestContext's context key.
type ctxKey struct{}

// TestContext: with Config.Context, a pooled exchange's requests are
// served in the context it made for that exchange, made once: a request
// that names no host has it with http.LocalAddrContextKey added.
func TestContext(t *testing.T) {
	var made atomic.Int32
	type seenCtx struct {
		n     any
		local bool
	}
	seenc := make(chan seenCtx, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		seenc <- seenCtx{r.Context().Value(ctxKey{}), local}
		io.WriteString(w, "ok")
	})
	_, addr := startFast(t, Config{Handler: h, Context: func() context.Context {
		return context.WithValue(context.Background(), ctxKey{}, made.Add(1))
	}})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for i, req := range []string{
		"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab",
		"GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", // no host
		"GET /d HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		got := <-seenc
		if n, ok := got.n.(int32); !ok || n < 1 || n > made.Load() || got.local != (i == 2) {
			t.Errorf("request %d: context value %v (of %d made), LocalAddrContextKey %v", i, got.n, made.Load(), got.local)
		}
	}
	// One connection's requests one after another: the pool gives the
	// next the exchange the last one used, mostly, and its context.
	for range 46 {
		fmt.Fprint(c, "GET /e HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		<-seenc
	}
	if n := made.Load(); n > 10 {
		t.Errorf("%d contexts made for 50 requests on one connection: one an exchange, not one a request", n)
	}
}
