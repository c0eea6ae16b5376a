package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OpenTelemetry collector's OTLP/HTTP traces endpoint:
// it keeps the spans it receives.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string // the service.name of each batch
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				o.services = append(o.services, a.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// span returns the first span named name, or nil.
func (o *otlpReceiver) span(name string) *tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

const lookupFlow = `params:
  crm: { default: "http://127.0.0.1:1" }
nodes:
  lookup:
    http:
      url: "{{ params.crm }}/customers?phone={{ urlquery(call.From) }}"
    on: { error: hello }
    next: hello
  hello:
    Speak: "Hello {{ nodes.lookup.body?.name ?? 'caller' }}."
`

// TestServeOpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a webhook
// is a span with the call's flow, node, outcome, step and id, its http
// request a child span, and the CRM gets the W3C traceparent of that
// child span.
func TestServeOpenTelemetry(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(env, "")
	}
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	var traceparent string
	var mu sync.Mutex
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparent = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"name": "Ada"}`))
	}))
	t.Cleanup(crm.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	t.Setenv("OTEL_SERVICE_NAME", "flowd-staging")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "crm.yaml"), []byte(lookupFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--param", "crm="+crm.URL)
	resp, err := http.PostForm(base+"/flows/crm/answer", url.Values{"CallUUID": {"otel-1"}, "From": {"+14155550100"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Hello Ada.") {
		t.Fatalf("answer: %s", body)
	}
	// The batch goes out within its delay; wait for it.
	var hook, req *tracepb.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if hook, req = recv.span("webhook answer"), recv.span("http lookup"); hook != nil && req != nil {
			break
		}
	}
	if hook == nil || req == nil {
		t.Fatalf("spans received: webhook %v, http %v", hook, req)
	}
	for k, want := range map[string]string{"flowd.flow": "crm", "flowd.node": "lookup", "flowd.outcome": "answer", "flowd.status": "ended",
		"flowd.wait": "", "flowd.call_id": "otel-1", "flowd.step": "1"} {
		if got := attrText(hook, k); got != want {
			t.Errorf("webhook span %s = %q, want %q", k, got, want)
		}
	}
	// A retried answer and the hangup are spans with the call's attributes
	// too.
	for _, path := range []string{"/flows/crm/answer", "/flows/crm/hangup"} {
		resp, err := http.PostForm(base+path, url.Values{"CallUUID": {"otel-1"}, "From": {"+14155550100"}, "HangupCause": {"NORMAL_CLEARING"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var retry, hangup *tracepb.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if answers := recv.named("webhook answer"); len(answers) == 2 {
			retry = answers[1]
		}
		if hangup = recv.span("webhook hangup"); retry != nil && hangup != nil {
			break
		}
	}
	if retry == nil || hangup == nil {
		t.Fatalf("spans received: retry %v, hangup %v", retry, hangup)
	}
	for k, want := range map[string]string{"flowd.flow": "crm", "flowd.node": "lookup", "flowd.outcome": "retry", "flowd.call_id": "otel-1", "flowd.step": "1"} {
		if got := attrText(retry, k); got != want {
			t.Errorf("retry span %s = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[string]string{"flowd.flow": "crm", "flowd.outcome": "hangup", "flowd.call_id": "otel-1", "flowd.step": "2", "flowd.hangup_cause": "NORMAL_CLEARING"} {
		if got := attrText(hangup, k); got != want {
			t.Errorf("hangup span %s = %q, want %q", k, got, want)
		}
	}
	if string(req.ParentSpanId) != string(hook.SpanId) || string(req.TraceId) != string(hook.TraceId) {
		t.Errorf("the http span is not the webhook span's child")
	}
	recv.mu.Lock()
	if len(recv.services) == 0 || recv.services[0] != "flowd-staging" {
		t.Errorf("service.name %v, want flowd-staging (OTEL_SERVICE_NAME)", recv.services)
	}
	recv.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	want := "00-" + hex.EncodeToString(req.TraceId) + "-" + hex.EncodeToString(req.SpanId) + "-01"
	if traceparent != want {
		t.Errorf("the CRM got traceparent %q, want %q", traceparent, want)
	}
}

// named returns the spans named name, in the order received.
func (o *otlpReceiver) named(name string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// attrText is an attribute's value as text.
func attrText(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key != key {
			continue
		}
		if _, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(a.Value.GetIntValue(), 10)
		}
		return a.Value.GetStringValue()
	}
	return ""
}

// TestOTelSettings: OpenTelemetry's standard switches are honoured, and
// what flowd cannot send is said rather than done otherwise.
func TestOTelSettings(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		protocol string
		on       bool
		msg      string
	}{
		{map[string]string{}, "", false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, "http/protobuf", true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc", true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, "http/protobuf", true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "TRUE"}, "", false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "none"}, "", false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "otlp"}, "http/protobuf", true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "zipkin"}, "", false, "OTEL_TRACES_EXPORTER=zipkin: flowd exports traces over OTLP only (otlp, or none for no traces)"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "", false, "protocol http/json: flowd sends OTLP as http/protobuf (the default) or grpc"},
	} {
		protocol, on, msg := otelSettings(func(k string) string { return c.env[k] })
		if protocol != c.protocol || on != c.on || msg != c.msg {
			t.Errorf("%v: %q %v %q, want %q %v %q", c.env, protocol, on, msg, c.protocol, c.on, c.msg)
		}
	}
}
