package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
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
