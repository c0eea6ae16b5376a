package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkTracingOTLP measures the answer webhook with OpenTelemetry on
// and the real OTLP/HTTP exporter sending every span to a local sink
// that reads and drops them, the exporter's own work (protobuf, the
// batch queue) included; BenchmarkTracing/off is its baseline. A CPU
// profile of it shows where tracing's cost goes:
//
//	go test ./runtime -run '^$' -bench 'Tracing(OTLP|/off)' -cpuprofile cpu.out
func BenchmarkTracingOTLP(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
	g, err := benchIVR()
	if err != nil {
		b.Fatal(err)
	}
	// flowd's batcher against the SDK's, which wakes its exporter for
	// every span.
	for _, name := range []string{"flowd-batcher", "sdk-batcher"} {
		b.Run(name, func(b *testing.B) {
			reg := NewRegistry(b.TempDir(), nil)
			reg.Add(g)
			st := NewMemory()
			defer st.Close()
			exp, err := otlptracehttp.New(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			proc := sdktrace.SpanProcessor(newSpanBatcher(exp))
			if name == "sdk-batcher" {
				proc = sdktrace.NewBatchSpanProcessor(exp)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
			defer tp.Shutdown(context.Background())
			benchServe(b, New(Config{Registry: reg, Store: st, PublicURL: "http://example.com", Tracer: tp}), false)
		})
	}
}
