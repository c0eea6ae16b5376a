package runtime

import (
	"context"
	"net/http"
	"os"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd-dev/flowd/flow"
)

// Tracing. With OpenTelemetry's standard OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) in the environment, each webhook is
// a span — its flow, node, outcome, step and call id as attributes — with
// a child span per http node request and per Plivo REST request, and the
// W3C traceparent header on those requests, so the CRM's own spans join
// the call's trace. Spans go to the collector over OTLP/HTTP. With the
// variables unset, nothing is made or sent.

// NewTracerProvider returns a provider that exports spans over OTLP to the
// endpoint the environment names, batched; Shutdown flushes them. The
// exporters read the standard variables themselves (the endpoints,
// OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, ...); protocol grpc picks
// OTLP/gRPC, anything else OTLP/HTTP (http/protobuf, the default). The
// spans' resource is service (OTEL_SERVICE_NAME, or flowd), the version
// and OTEL_RESOURCE_ATTRIBUTES.
func NewTracerProvider(ctx context.Context, service, version, protocol string) (*sdktrace.TracerProvider, error) {
	var exp sdktrace.SpanExporter
	var err error
	if protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(
		resource.NewSchemaless(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
			attribute.Int("process.pid", os.Getpid()),
		),
		resource.Environment(), // OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(newSpanBatcher(exp)), sdktrace.WithResource(res)), nil
}

// tracerName names flowd's instrumentation scope.
const tracerName = "github.com/flowd-dev/flowd/runtime"

// traceContext writes and reads the W3C traceparent header.
var traceContext = propagation.TraceContext{}

// webhookSpanNames are the spans' names by webhook kind, made once.
var webhookSpanNames = map[string]string{
	"answer": "webhook answer", "callback": "webhook callback", "hangup": "webhook hangup", "event": "webhook event",
}

// startWebhook starts a webhook's span, when tracing is on.
func (s *Server) startWebhook(r *http.Request, kind string) (*http.Request, trace.Span) {
	if s.tracer == nil {
		return r, nil
	}
	ctx, span := s.tracer.Start(r.Context(), webhookSpanNames[kind], serverSpan)
	return r.WithContext(ctx), span
}

// serverSpan is made once: an option per webhook is an allocation.
var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

// traceStep sets the attributes of a walked webhook on its span: node is
// the node it is about (the callback's; for an answer, where the walk
// started) and outcome its outcome as the trace names it (answer, input,
// busy, ...); flowd.wait is where the call waits now ("" once its flow
// ended) and flowd.status whether it waits, ended or hit an error.
func traceStep(ctx context.Context, sess *CallState, res flow.Result, node, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if node == "" && len(res.Path) > 0 {
		node = res.Path[0]
	}
	traceWebhook(span, sess, node, outcome,
		attribute.String("flowd.wait", sess.Wait),
		attribute.String("flowd.status", outcomeLabel(res)))
	if res.Err != nil {
		span.SetStatus(codes.Error, "run-time error")
	}
}

// traceWebhook sets the attributes every webhook's span has: the flow and
// version, the call and its step after the webhook, the node the webhook
// is about and its outcome; and any more.
func traceWebhook(span trace.Span, sess *CallState, node, outcome string, more ...attribute.KeyValue) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		attribute.String("flowd.flow", sess.Flow),
		attribute.String("flowd.version", sess.Version),
		attribute.String("flowd.node", node),
		attribute.String("flowd.outcome", outcome),
		attribute.Int("flowd.step", sess.Step),
		attribute.String("flowd.call_id", sess.CallUUID),
	)
	span.SetAttributes(more...)
}

// traceOther sets a webhook's span attributes where no walk ran: a hangup,
// an event, a retry answered from the state; key and value, when key is
// not "", are one more. Without tracing it costs nothing: those paths run
// once per call or more.
func (s *Server) traceOther(ctx context.Context, sess *CallState, node, outcome, key, value string) {
	if s.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if key == "" {
		traceWebhook(span, sess, node, outcome)
		return
	}
	traceWebhook(span, sess, node, outcome, attribute.String(key, value))
}

// tracedHTTP makes a child span of each http node request and sends the
// traceparent header with it.
type tracedHTTP struct {
	next   flow.HTTP
	tracer trace.Tracer
}

func (t tracedHTTP) Do(node string, req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), "http "+node, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("flowd.node", node), attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Host)))
	defer span.End()
	req = req.WithContext(ctx)
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := t.next.Do(node, req)
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	return resp, nil
}

// TracingTransport makes a child span of each request sent through next
// (flowd's requests to Plivo's REST API) and sends the traceparent header
// with it. The span is named "plivo METHOD PATH" without the account.
func TracingTransport(next http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	return tracingTransport{next: next, tracer: tp.Tracer(tracerName)}
}

type tracingTransport struct {
	next   http.RoundTripper
	tracer trace.Tracer
}

func (t tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), "plivo "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Host)))
	defer span.End()
	req = req.Clone(ctx)
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "status "+strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}
