package runtime

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/flowd-dev/flowd/console"
	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/jsonstr"
)

// The console (package console holds its files) is served under /ui/,
// behind the API's access rule, with its data under /ui/api/:
//
//	GET /ui/api/flows          what GET /v1/flows answers
//	GET /ui/api/flows/{flow}   the flow's diagram, placed, with each node's counts
//	GET /ui/api/calls          the live calls of this process
//	GET /ui/api/calls/{id}     what GET /v1/calls/{id} answers: the call's trace
//	GET /ui/api/events         the live calls as they move (text/event-stream)

// consoleChallenge is the challenge of a refused console request: Basic
// alone, the one a browser answers with its sign-in prompt.
const consoleChallenge = `Basic realm="flowd"`

// EventsPath is the console's live-calls stream: the one response flowd
// writes for as long as a client reads it, which the server in front of
// the Server serves apart from the webhooks (IsEventsPath).
const EventsPath = "/ui/api/events"

// IsEventsPath reports whether a request's path is the live-calls stream,
// under a public URL's path or not.
func IsEventsPath(path string) bool { return strings.HasSuffix(path, EventsPath) }

// consoleRoutes mounts the console.
func (s *Server) consoleRoutes(r chi.Router) {
	files, err := fs.Sub(console.Files, "static")
	if err != nil {
		panic(err) // the embedded folder is part of the build
	}
	static := http.StripPrefix("/ui/", http.FileServerFS(files))
	r.Get("/ui", func(w http.ResponseWriter, r *http.Request) {
		// Relative, so that under a public URL's path (/plivo/ui) the
		// browser stays under it.
		w.Header().Set("Location", "ui/")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	r.Route("/ui/", func(r chi.Router) {
		r.Use(middleware.GetHead, s.consoleAuth, consoleHeaders)
		r.Get("/api/flows", s.flowsList)
		r.With(s.flowCtx).Get("/api/flows/{flow}", s.consoleFlow)
		r.Get("/api/calls", s.consoleCalls)
		r.Get("/api/calls/{callUUID}", s.trace)
		r.Get(strings.TrimPrefix(EventsPath, "/ui"), s.consoleEvents)
		r.Get("/*", static.ServeHTTP)
	})
}

// consoleAuth is the API's access rule (apiAuth), with the console's
// challenge.
func (s *Server) consoleAuth(next http.Handler) http.Handler {
	challenge := consoleChallenge
	if s.cfg.APIKey == "" && s.cfg.APIToken != "" {
		// No Basic credentials to sign in with: a browser's prompt could
		// never succeed, so ask for the token instead.
		challenge = `Bearer realm="flowd"`
	}
	return s.guard(next, challenge)
}

// consoleHeaders keeps the console to its own files: no script, style,
// image or connection from anywhere else, no framing.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// consoleFlowJSON is a flow's page: the current version's diagram and
// each node's counts, by node id (nodes no call reached have none).
type consoleFlowJSON struct {
	flowJSON
	Description string               `json:"description,omitempty"`
	Now         string               `json:"now"`
	Diagram     *flow.Layout         `json:"diagram"`
	Counts      map[string]NodeCount `json:"counts"`
}

func (s *Server) consoleFlow(w http.ResponseWriter, r *http.Request) {
	fr := routeFlow(r)
	g := fr.Current
	if g == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown flow " + strconv.Quote(fr.Name)})
		return
	}
	out := consoleFlowJSON{flowJSON: flowJSON{Name: g.Name, Version: g.Version, Source: g.Path},
		Description: g.Description, Now: s.cfg.Now().UTC().Format(time.RFC3339),
		Diagram: flow.LayOut(g), Counts: s.metrics.nodes.flow(g.Name)}
	flows, _ := s.reg.Flows()
	for _, f := range flows {
		if f.Name == g.Name {
			out.Source, out.LoadedAt = f.Source, f.LoadedAt.UTC().Format(time.RFC3339)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// liveCallsJSON is the latest started live calls (at most listMax), how
// many calls are live, and the server's time, from which the console
// counts their durations.
type liveCallsJSON struct {
	Now   time.Time  `json:"now"`
	Total int        `json:"total"`
	Calls []LiveCall `json:"calls"`
}

func (s *Server) liveCalls(calls []LiveCall, total int) liveCallsJSON {
	return liveCallsJSON{Now: s.cfg.Now().UTC(), Total: total, Calls: calls}
}

func (s *Server) consoleCalls(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.liveCalls(s.calls.Calls()))
}

// The pace of a stream: it sends what changed every streamPace, in one
// write, so a busy server makes one write a pace rather than one an
// event, and the stream's goroutine wakes up at that pace, not at each
// webhook's. An idle stream sends a comment every streamKeepAlive, so
// proxies keep it open. A stream that keeps falling behind is sent the
// list again at most every resyncEvery; in between it misses changes, and
// the webhooks never wait for it.
//
// Each write to a stream has streamWriteTimeout to go through: a client
// that stops reading (its socket's buffers full) frees its stream's slot
// then, rather than hold it until the server stops.
const (
	streamPace         = 50 * time.Millisecond
	streamKeepAlive    = 15 * time.Second
	resyncEvery        = time.Second
	streamWriteTimeout = 15 * time.Second
)

// consoleEvents streams the live calls: a "calls" event with the list,
// then a "call" event for each call that moves or is new (added) and a
// "gone" event for each that leaves, and a new "calls" event when the
// stream fell behind. The stream ends with the request or when the server
// shuts down. Time here is real time: it paces the stream, it is no
// call's time.
func (s *Server) consoleEvents(w http.ResponseWriter, r *http.Request) {
	sub, calls, total, ok := s.calls.subscribe()
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many console streams are open, or the server is shutting down"})
		return
	}
	defer s.calls.unsubscribe(sub)
	rc := http.NewResponseController(w)
	// The server's write timeout is for webhooks; a stream lasts, and
	// each of its writes has its own (send).
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := w.Write(b)
		return err == nil && rc.Flush() == nil
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sendList := func(calls []LiveCall, total int) bool {
		b, err := json.Marshal(s.liveCalls(calls, total))
		if err != nil {
			return false
		}
		return send(append(append([]byte("event: calls\ndata: "), b...), "\n\n"...))
	}
	if !sendList(calls, total) {
		return
	}
	pace := time.NewTicker(streamPace)
	defer pace.Stop()
	var buf []byte
	var resynced time.Time
	idle := time.Duration(0)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.calls.done:
			return
		case <-pace.C:
		}
		if sub.lagged.Load() {
			if time.Since(resynced) < resyncEvery {
				continue
			}
			resynced = time.Now()
			if !sendList(s.calls.resync(sub)) {
				return
			}
			continue
		}
		buf = buf[:0]
		now := s.cfg.Now().UTC()
		names := s.calls.nameTable()
		for more := true; more; {
			select {
			case c := <-sub.ch:
				if int(max(c.entry.flow, c.entry.version, c.entry.wait)) >= len(names) {
					names = s.calls.nameTable() // a name added since
				}
				buf = appendCallEvent(buf, now, c.entry.call(&c.key, names), c.gone, c.added)
			default:
				more = false
			}
		}
		if len(buf) == 0 {
			if idle += streamPace; idle < streamKeepAlive {
				continue
			}
			buf = append(buf, ": keep-alive\n\n"...)
		}
		idle = 0
		if !send(buf) {
			return
		}
		if cap(buf) > 1<<20 {
			buf = nil // a burst's buffer is not kept
		}
	}
}

// callEventJSON is a "call" or "gone" event, as appendCallEvent writes it.
type callEventJSON struct {
	Now   time.Time `json:"now"`
	Call  LiveCall  `json:"call"`
	Added bool      `json:"added,omitempty"` // a new call: one more live
}

// appendCallEvent writes a "call" or "gone" event: callEventJSON as
// encoding/json writes it (TestCallEventMatchesJSON), by hand, as a busy
// server writes one for each webhook.
func appendCallEvent(b []byte, now time.Time, c LiveCall, gone, added bool) []byte {
	if gone {
		b = append(b, "event: gone\ndata: {\"now\":"...)
	} else {
		b = append(b, "event: call\ndata: {\"now\":"...)
	}
	b = appendEventTime(b, now)
	b = append(b, `,"call":{"call_uuid":`...)
	b = jsonstr.Append(b, c.CallUUID)
	b = append(b, `,"flow":`...)
	b = jsonstr.Append(b, c.Flow)
	b = append(b, `,"version":`...)
	b = jsonstr.Append(b, c.Version)
	b = append(b, `,"wait":`...)
	b = jsonstr.Append(b, c.Wait)
	b = append(b, `,"step":`...)
	b = strconv.AppendInt(b, int64(c.Step), 10)
	b = append(b, `,"started":`...)
	b = appendEventTime(b, c.Started)
	b = append(b, `,"updated":`...)
	b = appendEventTime(b, c.Updated)
	b = append(b, '}')
	if added {
		b = append(b, `,"added":true`...)
	}
	return append(b, "}\n\n"...)
}

// appendEventTime writes a time as appendJSONTime does; a time it cannot
// write (a year past 9999) is null.
func appendEventTime(b []byte, t time.Time) []byte {
	if out, err := appendJSONTime(b, t); err == nil {
		return out
	}
	return append(b, "null"...)
}

// EndStreams ends the console's open streams, and refuses new ones: an
// HTTP server's Shutdown waits for requests to finish, and a stream
// never does by itself.
func (s *Server) EndStreams() { s.calls.close() }
