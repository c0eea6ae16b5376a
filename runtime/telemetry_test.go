package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracingTransport: a request to Plivo's REST API made inside a
// webhook's span is its child span, and carries its traceparent.
func TestTracingTransport(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var got string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(api.Close)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "webhook callback")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.URL+"/v1/Account/MA/MultiPartyCall/name_q/Participant/", nil)
	resp, err := (&http.Client{Transport: TracingTransport(http.DefaultTransport, tp)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "plivo POST" {
		t.Fatalf("spans: %v", spans)
	}
	child := spans[0]
	if child.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("the REST span's parent is %v, want the webhook's", child.Parent.SpanID())
	}
	want := "00-" + child.SpanContext.TraceID().String() + "-" + child.SpanContext.SpanID().String() + "-01"
	if got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
}

// discard is a span exporter that drops what it gets: what tracing costs
// a webhook, without a collector's own cost.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracing compares the answer webhook (the IVR example, memory
// store) without tracing and with every webhook a span, batched to an
// exporter that drops them. Compare the two in one run:
//
//	go test ./runtime -run '^$' -bench Tracing -count 5
func BenchmarkTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			g, err := benchIVR()
			if err != nil {
				b.Fatal(err)
			}
			reg := NewRegistry(b.TempDir(), nil)
			reg.Add(g)
			st := NewMemory()
			b.Cleanup(func() { st.Close() })
			cfg := Config{Registry: reg, Store: st, PublicURL: "http://example.com"}
			if on {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				cfg.Tracer = tp
			}
			benchServe(b, New(cfg), false)
		})
	}
}

// TestWebhookSpansNameTheStep: every webhook's span names the flow, the
// call, its step, the node the webhook is about and its outcome: a
// callback's as the trace names it, an event's kind, a hangup, a retry.
func TestWebhookSpansNameTheStep(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	const src = `
flow: ev
nodes:
  menu:
    GetDigits: { numDigits: 1 }
    next: room
  room:
    MultiPartyCall: { name: "r-{{ call.CallUUID }}", role: customer }
    events: [status]
    next: bye
  bye:
    Hangup: {}
`
	reg := testRegistry(t, "ev.yaml", src)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, Tracer: tp}))
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/flows/ev/answer", url.Values{"CallUUID": {"c1"}}},
		{"/flows/ev/calls/1/menu/action", url.Values{"CallUUID": {"c1"}, "Digits": {"5"}}},
		{"/flows/ev/calls/1/menu/action", url.Values{"CallUUID": {"c1"}, "Digits": {"5"}}},
		{"/flows/ev/events/c1/room/status", url.Values{"EventName": {"MPCInitialized"}}},
		{"/flows/ev/hangup", url.Values{"CallUUID": {"c1"}, "HangupCause": {"NORMAL_CLEARING"}}},
	} {
		if code, msg := post(t, srv.URL+c.path, c.form); code >= 300 {
			t.Fatalf("%s = %d %s", c.path, code, msg)
		}
	}
	want := []string{
		"webhook answer ev c1 1 menu answer",
		"webhook callback ev c1 2 menu input",
		"webhook callback ev c1 2 menu retry",
		"webhook event ev c1 2 room status",
		"webhook hangup ev c1 3 room hangup",
	}
	var got []string
	for _, s := range exp.GetSpans() {
		a := map[string]string{}
		for _, kv := range s.Attributes {
			a[string(kv.Key)] = kv.Value.String()
		}
		got = append(got, strings.Join([]string{s.Name, a["flowd.flow"], a["flowd.call_id"], a["flowd.step"], a["flowd.node"], a["flowd.outcome"]}, " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("spans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
