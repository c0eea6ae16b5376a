package fastserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// serveStream serves a request Config.Stream names on its connection,
// taken over from fasthttp once the request is read: the handler writes
// the response as it goes (Flush sends what it wrote), its context ends
// when the client goes away (a read on the connection returns), and the
// connection is closed when it returns. The response is delimited by
// that close (Connection: close; no length, no chunks), which any
// HTTP/1.0 or 1.1 client reads.
func (s *Server) serveStream(ctx *fasthttp.RequestCtx) {
	x := new(exchange) // not pooled: the handler outlives this call
	r, err := s.request(ctx, x)
	if err != nil {
		badRequest(ctx, err)
		return
	}
	if r.ContentLength != 0 {
		// A stream takes no body, and none is read for it: the
		// connection is closed after the response.
		ctx.Error("413 Request Entity Too Large: a stream takes no body", http.StatusRequestEntityTooLarge)
		ctx.SetConnectionClose()
		return
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) { s.stream(c, r) })
}

// stream runs the handler for r on c, which it closes.
func (s *Server) stream(c net.Conn, r *http.Request) {
	// c is fasthttp's wrapper: its Close does nothing, and fasthttp takes
	// it (and the reader under it) back once this returns. Close closes
	// the connection itself.
	raw := c
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	s.streams.Store(raw, struct{}{})
	defer s.streams.Delete(raw)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Now().Add(s.fs.WriteTimeout))
	read := make(chan struct{})
	go func() {
		defer close(read)
		// A client sends nothing more on a stream: a read returns when it
		// goes away, or when the stream ends (the deadline below).
		var b [512]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	defer func() {
		// The read must be over before fasthttp reuses c and its reader.
		_ = raw.SetReadDeadline(time.Unix(1, 0))
		<-read
	}()
	w := &streamWriter{c: c, bw: bufio.NewWriter(c), h: make(http.Header), head: r.Method == http.MethodHead}
	if s.run(w, r.WithContext(ctx)) {
		_ = w.FlushError()
	}
}

// streamWriter is the http.ResponseWriter of a stream: it writes the
// response to the connection, through a buffer that Flush empties.
type streamWriter struct {
	c      net.Conn
	bw     *bufio.Writer
	h      http.Header
	status int
	head   bool // a HEAD request's response: no body
	wrote  bool // the status line and header fields are written
	open   bool // the header is not yet ended: the first body bytes may give its type
	sniff  bool // no Content-Type: one is sniffed from the first body bytes
}

func (w *streamWriter) Header() http.Header { return w.h }

func (w *streamWriter) WriteHeader(code int) {
	checkWriteHeaderCode(code)
	if w.wrote || code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.status, w.wrote, w.open = code, true, true
	fmt.Fprintf(w.bw, "HTTP/1.1 %03d %s\r\n", code, http.StatusText(code))
	w.sniff = writeHeader(w.h, code, w.head, func(k, v string) {
		if k == "Connection" {
			return // always close, below
		}
		w.bw.WriteString(k)
		w.bw.WriteString(": ")
		w.bw.WriteString(v)
		w.bw.WriteString("\r\n")
	})
	w.bw.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	w.bw.WriteString("Connection: close\r\n")
}

// endHeader ends the header, with a Content-Type sniffed from p when the
// handler gave none.
func (w *streamWriter) endHeader(p []byte) {
	if !w.open {
		return
	}
	w.open = false
	if w.sniff && len(p) > 0 {
		w.bw.WriteString("Content-Type: " + http.DetectContentType(p[:min(len(p), 512)]) + "\r\n")
	}
	if !bodyAllowed(w.status) {
		w.bw.WriteString("Content-Length: 0\r\n")
	}
	w.bw.WriteString("\r\n")
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.endHeader(p)
	if w.head {
		return len(p), nil
	}
	return w.bw.Write(p)
}

// FlushError sends what was written; http.ResponseController.Flush
// calls it.
func (w *streamWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.endHeader(nil)
	return w.bw.Flush()
}

func (w *streamWriter) Flush() { _ = w.FlushError() }

// SetWriteDeadline lets a stream outlive the server's write timeout
// (http.ResponseController.SetWriteDeadline).
func (w *streamWriter) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }

// SetReadDeadline is refused: the stream's own read watches the client.
func (w *streamWriter) SetReadDeadline(time.Time) error {
	return errors.New("fastserve: a stream's read deadline is the server's")
}
