//go:build unix

package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/jsonstr"
)

// BenchmarkAnswerHandler measures the answer webhook of the IVR example
// in-process, through ServeHTTP, with a fresh CallUUID per request:
//
//	constant  a handler that parses the form and writes the same XML bytes:
//	          the floor any answer handler pays in net/http
//	memory    flowd on the memory store
//	journal   flowd on the journal store, in a temporary folder
//	bolt      flowd on the bbolt store, in a temporary folder
//
// The parallel/... set runs the same from 16 goroutines per GOMAXPROCS;
// run with -cpu 1,2 to see how each scales.
//
//	go test ./runtime -run XXX -bench AnswerHandler -benchmem -count 5
func BenchmarkAnswerHandler(b *testing.B) {
	for _, par := range []bool{false, true} {
		prefix := ""
		if par {
			prefix = "parallel/"
		}
		for _, target := range []string{"constant", "memory", "journal", "bolt"} {
			b.Run(prefix+target, func(b *testing.B) {
				h := benchHandler(b, target)
				benchServe(b, h, par)
			})
		}
	}
}

// benchHandler returns the handler under test. Each call starts on an
// empty store, as a restarted flowd would.
func benchHandler(b testing.TB, target string) http.Handler {
	b.Helper()
	switch target {
	case "constant":
		xml := benchExpectedXML(b)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil || r.PostForm.Get("CallUUID") == "" {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			writeXML(w, xml)
		})
	case "memory", "journal", "bolt":
		return benchServer(b, benchStore(b, target))
	}
	b.Fatalf("unknown target %q", target)
	return nil
}

// benchStore opens a store for a benchmark.
func benchStore(tb testing.TB, kind string) Store {
	tb.Helper()
	var st Store
	var err error
	switch kind {
	case "journal":
		st, err = OpenJournal(filepath.Join(tb.TempDir(), "sessions"))
	case "bolt":
		st, err = OpenBolt(filepath.Join(tb.TempDir(), "s.db"))
	default:
		st = NewMemory()
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// benchIVR compiles examples/flows/ivr.yaml once.
var benchIVR = sync.OnceValues(func() (*flow.Graph, error) {
	path := filepath.Join("..", "examples", "flows", "ivr.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, ds := flow.Compile(path, src)
	if g == nil {
		return nil, &benchCompileError{ds.Error()}
	}
	return g, nil
})

type benchCompileError struct{ msg string }

func (e *benchCompileError) Error() string { return "examples/flows/ivr.yaml: " + e.msg }

// benchServer serves the IVR example from st, configured as `flowd serve`
// is by default (no public URL, no signatures, a discarded log).
func benchServer(b testing.TB, st Store) *Server {
	b.Helper()
	g, err := benchIVR()
	if err != nil {
		b.Fatal(err)
	}
	reg := NewRegistry(b.TempDir(), nil)
	reg.Add(g)
	// A fixed public URL, as in production (the answer XML is the same).
	return New(Config{Registry: reg, Store: st, PublicURL: "http://example.com", APIToken: "bench-token"})
}

// benchExpectedXML is the IVR's answer XML, from a throwaway server.
func benchExpectedXML(b testing.TB) []byte {
	b.Helper()
	st := NewMemory()
	defer st.Close()
	srv := benchServer(b, st)
	var body []byte
	req := benchRequest(benchForm(&body, 0), &bytes.Reader{})
	w := newBenchWriter()
	srv.ServeHTTP(w, req)
	if w.code != http.StatusOK || !bytes.HasPrefix(w.body.Bytes(), []byte("<Response>")) {
		b.Fatalf("answer: %d %s", w.code, w.body.Bytes())
	}
	return bytes.Clone(w.body.Bytes())
}

// benchAnswerURL is where Plivo posts the answer webhook.
var benchAnswerURL = &url.URL{Scheme: "http", Host: "flowd.example.com", Path: "/flows/ivr/answer"}

var benchHeader = http.Header{
	"Content-Type": {"application/x-www-form-urlencoded"},
	"User-Agent":   {"PlivoHTTP"},
}

// benchFormHead and benchFormTail surround the CallUUID of a realistic
// Plivo answer body; the CallUUID is the last parameter so a fresh one
// costs an append. The same parameters are in scripts/answer.lua.
const (
	benchFormHead = "From=%2B14155550100&To=%2B14155550199&Direction=inbound&CallStatus=ringing" +
		"&Event=StartApp&CallerName=Jane+Doe&BillRate=0.0085&ParentAuthID=MAXXXXXXXXXXXXXXXXXX" +
		"&RequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b&ALegRequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b" +
		"&SessionStart=2025-01-01+12%3A00%3A00.000000&STIRAttestation=A&STIRVerification=Verified" +
		"&CallUUID="
)

var benchSeq atomic.Uint64

// benchForm appends the answer body for call n to (*buf)[:0] and returns it.
// The CallUUID is unique per n and, like Plivo's (random UUIDs), does not
// sort in the order calls arrive: its first group is a hash of n, its last
// group n itself.
func benchForm(buf *[]byte, n uint64) []byte {
	b := append((*buf)[:0], benchFormHead...)
	b = benchHex(b, (n*0x9E3779B97F4A7C15)>>32, 8)
	b = append(b, "-3d4e-4f50-8a61-"...)
	b = benchHex(b, n, 12)
	*buf = b
	return b
}

// benchHex appends the low digits hex digits of v.
func benchHex(b []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, "0123456789abcdef"[(v>>(4*uint(i)))&15])
	}
	return b
}

// benchRequest returns a fresh answer request reading body through r.
func benchRequest(body []byte, r *bytes.Reader) *http.Request {
	return new(benchRequests).next(body, r)
}

// benchRequests are one goroutine's answer requests, made one after
// another in one http.Request with one context, as flowd serve's HTTP
// server serves them: in a context the Server's RequestContext made
// (newBenchRequests), or none.
type benchRequests struct{ blank, req http.Request }

// newBenchRequests returns requests for h: in a context of its own when
// h is a Server.
func newBenchRequests(h http.Handler) *benchRequests {
	rs := new(benchRequests)
	if s, ok := h.(*Server); ok {
		rs.blank = *rs.blank.WithContext(s.RequestContext())
	}
	return rs
}

// next returns the answer request reading body through r.
func (rs *benchRequests) next(body []byte, r *bytes.Reader) *http.Request {
	r.Reset(body)
	req := &rs.req
	*req = rs.blank
	req.Method = http.MethodPost
	req.URL = benchAnswerURL
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	req.Header = benchHeader
	req.Body = io.NopCloser(r)
	req.ContentLength = int64(len(body))
	req.Host = benchAnswerURL.Host
	req.RemoteAddr = "127.0.0.1:40000"
	req.RequestURI = benchAnswerURL.Path
	return req
}

// benchWriter is a ResponseWriter that keeps the last response.
type benchWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func newBenchWriter() *benchWriter { return &benchWriter{h: http.Header{}} }

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(p)
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.code = 0
	w.body.Reset()
}

// benchServe posts b.N answers to h and checks every response. Besides
// ns/op (wall time) it reports cpu-ns/op, the CPU time the process spent
// (user and system, GC included): on a shared machine wall time counts
// the time other processes held the CPU, CPU time does not.
func benchServe(b *testing.B, h http.Handler, parallel bool) {
	want := benchExpectedXML(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(want)))
	cpu0, faults0 := benchCPU(), benchFaults()
	defer func() {
		b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(benchFaults()-faults0)/float64(b.N), "faults/op")
	}()
	check := func(w *benchWriter) {
		if w.code != http.StatusOK || !bytes.Equal(w.body.Bytes(), want) {
			b.Fatalf("answer: %d %q", w.code, w.body.Bytes())
		}
	}
	if !parallel {
		var buf []byte
		var rd bytes.Reader
		w, reqs := newBenchWriter(), newBenchRequests(h)
		b.ResetTimer()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, reqs.next(benchForm(&buf, benchSeq.Add(1)), &rd))
			check(w)
		}
		return
	}
	// Webhooks arrive on many connections at once: 16 goroutines per
	// GOMAXPROCS let the bolt store group its commits as a busy server's
	// would, and cost the CPU-bound handlers little.
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		var rd bytes.Reader
		w, reqs := newBenchWriter(), newBenchRequests(h)
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, reqs.next(benchForm(&buf, benchSeq.Add(1)), &rd))
			if w.code != http.StatusOK || !bytes.Equal(w.body.Bytes(), want) {
				b.Errorf("answer: %d %q", w.code, w.body.Bytes())
				return
			}
		}
	})
}

// benchCPU returns the CPU time the process has used, in nanoseconds.
func benchCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchFaults is the process's page faults so far that the kernel
// served without reading a disk: each a page the process touched for the
// first time, or again after giving it back.
func benchFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Minflt)
}

// TestBenchAnswerHandlers keeps the benchmark's handlers honest in the
// normal test run: each answers a fresh call with the IVR's XML, and a
// retried answer gets the same XML again.
func TestBenchAnswerHandlers(t *testing.T) {
	want := benchExpectedXML(t)
	for _, target := range []string{"constant", "memory", "journal", "bolt"} {
		h := benchHandler(t, target)
		var buf []byte
		var rd bytes.Reader
		w := newBenchWriter()
		for _, n := range []uint64{1, 2, 2} {
			w.reset()
			h.ServeHTTP(w, benchRequest(benchForm(&buf, n), &rd))
			if w.code != http.StatusOK || !bytes.Equal(w.body.Bytes(), want) {
				t.Fatalf("%s: call %d: %d %q", target, n, w.code, w.body.Bytes())
			}
			if ct := w.h.Get("Content-Type"); ct != "application/xml" {
				t.Fatalf("%s: Content-Type %q", target, ct)
			}
			if cl := w.h.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
				t.Fatalf("%s: Content-Length %q, want %d", target, cl, len(want))
			}
		}
	}
}

// TestEncodeStateMatchesJSON keeps the hand-written encoders of the call
// state and of trace entries byte for byte equal to encoding/json (with
// HTML escaping off), on values that set every field, on ones that set
// none, and on strings that need escaping.
func TestEncodeStateMatchesJSON(t *testing.T) {
	// A field added to these types must be added to appendState,
	// appendTraceStep or encodeEvent too; then add it here and to full
	// below.
	known := map[reflect.Type]string{
		reflect.TypeFor[CallState]():    "CallUUID Flow Version Answered Step Wait Status Key XML Call Vars Nodes Frames HangupCause Rooms Started Claim Entries EventEntries EventKeys xmlFrom xmlOld",
		reflect.TypeFor[Claim]():        "Key Owner Until",
		reflect.TypeFor[TraceStep]():    "Step At Webhook Flow Node Event Outcome Inputs Path Edges Requests Error XML",
		reflect.TypeFor[flow.Request](): "Node Method URL Status Ms Error",
		reflect.TypeFor[Event]():        "At Kind Params",
		reflect.TypeFor[flow.Taken]():   "From Label",
		reflect.TypeFor[flow.Frame]():   "Node Flow Vars Nodes",
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if strings.Join(got, " ") != want {
			t.Fatalf("%v has fields %v; the encoder writes %s: update it", typ, got, want)
		}
	}
	odd := "a\"b\\c\x00\x01\b\f\n\r\t\x1f<x & y>\u2028\u2029\xff\xfe é 😀 \x7f"
	at := time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.FixedZone("X", 3600))
	full := &CallState{
		CallUUID: "c1" + odd, Flow: "ivr", Version: "v1", Answered: "front" + odd, Step: 3, Wait: "menu", Status: StatusLive, Key: "2/menu/action",
		XML:  "<Response><Speak>Hi &amp; bye</Speak></Response>",
		Call: map[string]string{"CallUUID": "c1", "From": "+1415", odd: odd, "": ""},
		Vars: map[string]any{
			"n": 7, "big": int64(1) << 60, "f": 1.5, "tiny": 1e-9, "huge": 1e21, "s": odd, "b": true, "nil": nil,
			"m": map[string]any{"x": []any{1, "<a>", false}}, "l": []any{"q", 2.25}, "u": uint8(3),
		},
		Nodes: map[string]map[string]string{"menu": {"Digits": "1"}, "empty": nil, odd: {odd: odd}},
		Frames: []flow.Frame{
			{Node: "check_pin", Flow: "pin-check", Vars: map[string]any{"tries": 2, odd: odd}, Nodes: map[string]map[string]string{"ask": {"Digits": "12"}, odd: {odd: odd}}},
			{Node: odd, Flow: odd, Vars: map[string]any{}},
		},
		HangupCause: "NORMAL_CLEARING",
		Rooms:       map[string]string{"bridge": "room-1", odd: odd},
		Started:     at,
		Claim:       &Claim{Key: odd, Owner: "0123abcd", Until: at},
		Entries:     12, EventEntries: 3, EventKeys: []uint32{0, 7, 4294967295},
	}
	step := &TraceStep{
		Step: 1, At: at, Webhook: hookAnswer, Flow: "support" + odd, Node: "menu", Event: "action", Outcome: "input",
		Inputs: map[string]string{"Digits": "1"}, Path: []string{"greet", odd},
		Edges: []flow.Taken{{From: "greet", Label: "next"}, {From: odd, Label: odd}},
		Requests: []flow.Request{{Node: "lookup", Method: "GET", URL: "https://crm.example.com/c" + odd, Status: 200, Ms: 12},
			{Node: odd, Method: "POST", URL: odd, Status: 0, Ms: 3000, Error: "timeout"}},
		Error: "boom " + odd, XML: "<Response><Speak>Hi &amp; bye</Speak></Response>",
	}
	event := &Event{At: at, Kind: "status", Params: map[string]string{"CallStatus": "completed", odd: odd}}
	for _, v := range []reflect.Value{reflect.ValueOf(*full), reflect.ValueOf(*full.Claim), reflect.ValueOf(*step), reflect.ValueOf(*event)} {
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue // CallState's XML not yet made: TestRecordedXML
			}
			if v.Field(i).IsZero() {
				t.Fatalf("the full value leaves %s.%s unset", v.Type().Name(), v.Type().Field(i).Name)
			}
		}
	}
	asJSON := func(v any) []byte {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(want.Bytes(), []byte("\n"))
	}
	large := map[string]string{}
	for i := range 2 * smallMap {
		large[fmt.Sprintf("X-PH-Header-%d", i*7%100)] = odd
	}
	for name, s := range map[string]*CallState{
		"full":  full,
		"large": {Call: large, Nodes: map[string]map[string]string{"n": large}},
		"zero":  {},
		"empty": {Call: map[string]string{}, Vars: map[string]any{}, Nodes: map[string]map[string]string{}},
	} {
		got, err := encodeState(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := asJSON(s); !bytes.Equal(got, w) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
		if _, err := decodeState(got); err != nil {
			t.Errorf("%s: decode: %v", name, err)
		}
	}
	for name, v := range map[string]any{"step": step, "hangup step": &TraceStep{Webhook: hookHangup}, "event": event, "empty event": &Event{}} {
		var got []byte
		var err error
		switch x := v.(type) {
		case *TraceStep:
			got, err = appendTraceStep(nil, x, nil)
		case *Event:
			got, err = encodeEvent(x)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := asJSON(v); !bytes.Equal(got, w) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
	}
	// Entries read back as the steps and events of a session.
	var sess Session
	sess.Entries, sess.EventEntries = 5, 3
	e1, _ := appendTraceStep(nil, step, nil)
	e2, _ := encodeEvent(event)
	if err := sess.addEntries([][]byte{e1, e2}); err != nil {
		t.Fatal(err)
	}
	if len(sess.Trace) != 1 || sess.Trace[0].Node != "menu" || len(sess.Events) != 1 || sess.Events[0].Kind != "status" || sess.Omitted != 4 || sess.EventsOmitted != 2 {
		t.Errorf("addEntries: trace %+v, events %+v, omitted %d and %d", sess.Trace, sess.Events, sess.Omitted, sess.EventsOmitted)
	}
	if _, err := encodeState(&CallState{Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a time json.Marshal refuses was encoded")
	}
	if _, err := encodeState(&CallState{Vars: map[string]any{"c": make(chan int)}}); err == nil {
		t.Error("a var json.Marshal refuses was encoded")
	}
}

// TestServeForProfile serves the IVR example over HTTP the way flowd
// serve does (JSON log lines to a file, the same http.Server settings) so
// a load generator can drive it while the test binary profiles it. It runs
// only when FLOWD_PROFILE_ADDR is set, for FLOWD_PROFILE_SECONDS (default
// 20), on FLOWD_PROFILE_STORE (memory or bolt):
//
//	FLOWD_PROFILE_ADDR=127.0.0.1:18090 taskset -c 0 go test ./runtime -run ServeForProfile -cpuprofile cpu.out
//	taskset -c 1 wrk -t1 -c64 -d10s -s scripts/answer.lua http://127.0.0.1:18090/flows/ivr/answer -- 1
//	go tool pprof -top runtime.test cpu.out
func TestServeForProfile(t *testing.T) {
	addr := os.Getenv("FLOWD_PROFILE_ADDR")
	if addr == "" {
		t.Skip("set FLOWD_PROFILE_ADDR to serve for profiling")
	}
	secs, _ := strconv.Atoi(os.Getenv("FLOWD_PROFILE_SECONDS"))
	if secs <= 0 {
		secs = 20
	}
	var st Store = NewMemory()
	if kind := os.Getenv("FLOWD_PROFILE_STORE"); kind != "" && kind != "memory" {
		st.Close()
		var err error
		if st, err = OpenStore(kind + ":" + filepath.Join(t.TempDir(), "s")); err != nil {
			t.Fatal(err)
		}
	}
	defer st.Close()
	logf, err := os.Create(filepath.Join(t.TempDir(), "flowd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	g, err := benchIVR()
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(t.TempDir(), nil)
	reg.Add(g)
	srv := New(Config{Registry: reg, Store: st, Logger: slog.New(slog.NewJSONHandler(logf, nil))})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Logf("serving on http://%s/flows/ivr/answer for %d s", ln.Addr(), secs)
	time.Sleep(time.Duration(secs) * time.Second)
	_ = hs.Close()
}

// BenchmarkEncodeSession measures encoding the call state the answer webhook
// of the IVR example stores, against encoding/json.
func BenchmarkEncodeSession(b *testing.B) {
	st := NewMemory()
	defer st.Close()
	srv := benchServer(b, st)
	var buf []byte
	var rd bytes.Reader
	w := newBenchWriter()
	srv.ServeHTTP(w, benchRequest(benchForm(&buf, 1), &rd))
	id := string(bytes.TrimPrefix(benchForm(&buf, 1), []byte(benchFormHead)))
	rec, err := st.Get(b.Context(), id)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := decodeState(rec.Data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("flowd", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := benchCPU()
		for b.Loop() {
			if _, err := encodeState(sess); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := benchCPU()
		for b.Loop() {
			if _, err := json.Marshal(sess); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
}

// TestBoltGroupCommit checks the bolt store's group commit: concurrent
// writes share transactions yet keep their own results (one Create per
// call wins, a stale Update conflicts), a write that panics panics in its
// own goroutine and fails no other, and a closed store refuses writes.
func TestBoltGroupCommit(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const calls, tries = 40, 5
	var created, exists atomic.Int64
	var wg sync.WaitGroup
	for i := range calls * tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("call-%d", i%calls)
			switch err := st.Create(ctx, id, Record{Rev: 1, Live: true, Data: []byte(id)}, time.Hour); {
			case err == nil:
				created.Add(1)
			case errors.Is(err, ErrExists):
				exists.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	// A write that panics, among the others.
	wg.Add(1)
	var recovered atomic.Value
	go func() {
		defer wg.Done()
		defer func() { recovered.Store(fmt.Sprint(recover())) }()
		_ = st.write(func(*bolt.Tx) error { panic("boom") })
	}()
	wg.Wait()
	if created.Load() != calls || exists.Load() != calls*(tries-1) {
		t.Errorf("%d created, %d ErrExists; want %d and %d", created.Load(), exists.Load(), calls, calls*(tries-1))
	}
	if got := recovered.Load(); got != "boom" {
		t.Errorf("the panicking write recovered %v, want boom", got)
	}
	for i := range calls {
		id := fmt.Sprintf("call-%d", i)
		rec, err := st.Get(ctx, id)
		if err != nil || string(rec.Data) != id {
			t.Fatalf("%s: %v %q", id, err, rec.Data)
		}
	}
	if err := st.Update(ctx, "call-0", 1, Record{Rev: 2, Live: true, Data: []byte("2")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, "call-0", 1, Record{Rev: 2, Live: true, Data: []byte("x")}, time.Hour); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, "late", Record{Rev: 1, Data: []byte("x")}, time.Hour); err == nil {
		t.Fatal("a closed store accepted a write")
	}
}

// TestStateLeavesOutCallUUIDs: the CallUUID every webhook carries is
// stored once, and the call's and nodes' parameters get it back.
func TestStateLeavesOutCallUUIDs(t *testing.T) {
	s := &CallState{CallUUID: "c-1234", Call: map[string]string{"CallUUID": "c-1234", "From": "+1415"},
		Nodes: map[string]map[string]string{"menu": {"CallUUID": "c-1234", "Digits": "1"}, "other": {"CallUUID": "x"}, "none": nil}}
	b, err := encodeState(s)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("c-1234")); n != 1 {
		t.Errorf("the CallUUID is stored %d times, want once: %s", n, b)
	}
	if s.Call["CallUUID"] != "c-1234" || s.Nodes["menu"]["CallUUID"] != "c-1234" {
		t.Errorf("encodeState changed the state it encoded: %+v", s)
	}
	got, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Call, s.Call) || !reflect.DeepEqual(got.Nodes, s.Nodes) {
		t.Errorf("decoded call %v nodes %v, want %v %v", got.Call, got.Nodes, s.Call, s.Nodes)
	}
}

// TestRecordedXML: a walk's XML that record keeps (xmlFrom, xmlOld) is
// encoded as the state with XML set to strings.ReplaceAll of it, and as
// it is without a prefix to replace.
func TestRecordedXML(t *testing.T) {
	odd := "a\"b\\c\x00\x01\n\t<x & y>\u2028\xff\xe2\x80 é 😀"
	for _, c := range []struct{ xml, old, mark string }{
		{"", "", xmlMark},
		{"<a/>", "", xmlMark},
		{"", "http://x/flows/f/calls/1", xmlMark},
		{`<GetDigits action="http://x/flows/f/calls/1/menu/action"/><Redirect>http://x/flows/f/calls/1/menu/no_input</Redirect>`, "http://x/flows/f/calls/1", xmlMark},
		{"http://x/flows/f/calls/1", "http://x/flows/f/calls/1", xmlMark},
		{"aaaaa", "aa", xmlMark},
		{"aaaaa", "aa", "<@<@<@"},
		{"abcabc", "abc", ""},
		{"no match here", "http://x", xmlMark},
		{odd + "http://x" + odd + "http://x\xe2\x80", "http://x", xmlMark},
		{"\xe2http://x\x80\xa8", "http://x", "\u2028"},
	} {
		want := c.xml // no prefix to replace
		if c.old != "" {
			want = strings.ReplaceAll(c.xml, c.old, c.mark)
		}
		got := appendReplacedJSON(nil, []byte(c.xml), c.old, c.mark)
		if w := jsonstr.Append(nil, want); !bytes.Equal(got, w) {
			t.Errorf("appendReplacedJSON(%q, %q, %q) = %s, want %s", c.xml, c.old, c.mark, got, w)
		}
		if c.mark != xmlMark {
			continue
		}
		gotState, err1 := encodeState(&CallState{CallUUID: "c", xmlFrom: []byte(c.xml), xmlOld: c.old, XML: "stale"})
		wantState, err2 := encodeState(&CallState{CallUUID: "c", XML: want})
		if err1 != nil || err2 != nil || !bytes.Equal(gotState, wantState) {
			t.Errorf("state of %q, %q:\n got %s %v\nwant %s %v", c.xml, c.old, gotState, err1, wantState, err2)
		}
	}
}

// TestRecordedXMLEscaped: the state's XML cut from the trace entry's
// escaped copy (appendStateEscaped, as txn.write does) is the state's
// XML escaped from the walk's, wherever replaceEscaped lets it be cut:
// on random texts and olds made of plain bytes, of the bytes that follow
// an escape's backslash, and of bytes that need escaping.
func TestRecordedXMLEscaped(t *testing.T) {
	pieces := []string{"h", "t", "p", ":", "/", "x", "<", "@", `"`, `\`, "\n", "\x1f", "n", "u", "2", "0", "8", "f", "d",
		"\u2028", "\xff", "\xe2\x80", "é", "http://x", "http://x/flows/f/calls/1", "u2028", "n/a"}
	rnd := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	olds := []string{"", "http://x", "http://x/flows/f/calls/1", "u2028", "n", "0", "2028", "x", "ttp", "<@"}
	cut := 0
	for i := range 20000 {
		xml := text(rnd.IntN(12))
		old := olds[i%len(olds)]
		if i%3 == 0 {
			old = text(1 + rnd.IntN(3))
		}
		ts := TraceStep{Step: 1, Webhook: hookAnswer}
		entry, at, err := appendTraceStepAt(nil, &ts, []byte(xml))
		if err != nil {
			t.Fatal(err)
		}
		if xml == "" {
			if at != 0 {
				t.Fatalf("no XML written, at %d", at)
			}
			continue
		}
		escaped := entry[at : len(entry)-2]
		if want := jsonstr.Append(nil, xml); !bytes.Equal(append(append([]byte{'"'}, escaped...), '"'), want) {
			t.Fatalf("entry of %q holds %s at %d, want %s", xml, escaped, at, want)
		}
		s := &CallState{CallUUID: "c", xmlFrom: []byte(xml), xmlOld: old}
		want, err1 := appendState(nil, s)
		got, err2 := appendStateEscaped(nil, s, escaped)
		if replaceEscaped(old, xmlMark) {
			cut++
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Fatalf("state of %q, %q cut from %s:\n got %s %v\nwant %s %v", xml, old, escaped, got, err2, want, err1)
			}
		}
	}
	if cut < 5000 {
		t.Fatalf("only %d states were cut from escaped XML", cut)
	}
	for _, old := range []string{"n", "u2028", "0", "f", "b", `"`, `\`, "\n", "x\x00"} {
		if replaceEscaped(old, xmlMark) {
			t.Errorf("replaceEscaped(%q) = true", old)
		}
	}
	if !replaceEscaped("http://x/flows/f/calls/1", xmlMark) || !replaceEscaped("", xmlMark) {
		t.Error("replaceEscaped refuses the start of callback URLs")
	}
}

// TestEncodeStepXML: a step whose XML is given as bytes is the step with
// that XML.
func TestEncodeStepXML(t *testing.T) {
	for _, xml := range []string{"", "<Response><Speak>Hi \"x\" &amp; é</Speak></Response>"} {
		ts := TraceStep{Step: 2, Webhook: hookCallback, Node: "menu", Path: []string{"a", "b"}, Error: "e"}
		got, err := appendTraceStep(nil, &ts, []byte(xml))
		if err != nil {
			t.Fatal(err)
		}
		ts.XML = xml
		want, err := appendTraceStep(nil, &ts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appendTraceStep with the walk's XML: %s, want %s", got, want)
		}
	}
}

// TestAppendParams: webhook parameters are written as encoding/json
// writes the map — keys sorted, whatever bytes they share or end in —
// without the CallUUID when it is the call's.
func TestAppendParams(t *testing.T) {
	asJSON := func(m map[string]string) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	pool := []string{"", "\x00", "\xff", "a", "ab", "ab\x00", "ab\x00\x00", "ab\x01", "abcdefg", "abcdefgh", "abcdefgh\x00",
		"abcdefghi", "abcdefgi", "ALegRequestUUID", "ALegRequestUUIE", "ALegRequest", "CallUUID", "CallStatus", "Call",
		"X-PH-Header-1", "X-PH-Header-10", "X-PH-Header-2", "é", "\u2028", "Digits", "From", "To"}
	seed := uint64(7)
	for round := range 2000 {
		m := map[string]string{}
		n := round % (2*smallMap + 3)
		for range n {
			seed = seed*6364136223846793005 + 1442695040888963407
			k := pool[seed>>33%uint64(len(pool))]
			if seed>>20%3 == 0 {
				k += fmt.Sprint(seed >> 40 % 50)
			}
			m[k] = fmt.Sprint(seed % 5)
		}
		if got, want := string(appendStringMap(nil, m)), asJSON(m); got != want {
			t.Fatalf("appendStringMap:\n got %s\nwant %s", got, want)
		}
		id := fmt.Sprint(seed % 5)
		without := maps.Clone(m)
		if without["CallUUID"] == id {
			delete(without, "CallUUID")
		}
		if got, want := string(appendParams(nil, m, true, id)), asJSON(without); got != want {
			t.Fatalf("appendParams without CallUUID %q:\n got %s\nwant %s", id, got, want)
		}
	}
	if got := string(appendParams(nil, nil, true, "")); got != "null" {
		t.Fatalf("nil: %s", got)
	}
	if got := string(appendParams(nil, map[string]string{"CallUUID": ""}, true, "")); got != "{}" {
		t.Fatalf("only the CallUUID: %s", got)
	}
}
