package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// countingExporter counts the spans and batches exported.
type countingExporter struct {
	mu      sync.Mutex
	batches []int
	shut    bool
}

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, len(spans))
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shut = true
	return nil
}

func (e *countingExporter) total() (n int, batches []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		n += b
	}
	return n, append([]int(nil), e.batches...)
}

// TestSpanBatcher: spans go out in batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE
// as soon as one is full, the rest at the schedule delay or on shutdown;
// beyond OTEL_BSP_MAX_QUEUE_SIZE waiting spans, new ones are dropped.
func TestSpanBatcher(t *testing.T) {
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "25")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // an hour: only full batches and shutdown export
	exp := &countingExporter{}
	b := newSpanBatcher(exp)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	tr := tp.Tracer("test")
	for range 25 {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := exp.total(); n < 20; n, _ = exp.total() {
		if time.Now().After(deadline) {
			t.Fatalf("full batches not exported: %d spans", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n, batches := exp.total(); n > 25 || batches[0] != 10 {
		t.Errorf("exported %d spans in %v", n, batches)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, batches := exp.total(); n != 25 || !exp.shut {
		t.Errorf("after shutdown: %d spans in %v, exporter shut down %v", n, batches, exp.shut)
	}

	// A collector that does not keep up: the queue holds 25, the rest drop.
	exp = &countingExporter{}
	b = newSpanBatcher(exp)
	b.exportMu.Lock() // the export goroutine is busy
	tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	tr = tp.Tracer("test")
	for range 40 {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	b.mu.Lock()
	queued, dropped := len(b.spans), b.dropped
	b.mu.Unlock()
	if queued != 25 || dropped != 15 {
		t.Errorf("queued %d, dropped %d; want 25 and 15", queued, dropped)
	}
	b.exportMu.Unlock()
	_ = tp.Shutdown(context.Background())
	if n, _ := exp.total(); n != 25 {
		t.Errorf("exported %d, want the 25 queued", n)
	}
}

// failingExporter refuses every batch, as an exporter does while its
// collector is down.
type failingExporter struct{}

func (failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	return errors.New("connection refused")
}
func (failingExporter) Shutdown(context.Context) error { return nil }

// TestSpanBatcherReportsFailures: a failed export, and spans dropped for a
// full queue, reach OpenTelemetry's error handler (which flowd serve
// logs), rather than being lost without a word.
func TestSpanBatcherReportsFailures(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
	errs := make(chan error, 100)
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	b := newSpanBatcher(failingExporter{})
	b.exportMu.Lock() // hold the export, so the queue fills and spans drop
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	for range 5 {
		_, s := tp.Tracer("test").Start(context.Background(), "s")
		s.End()
	}
	b.exportMu.Unlock()
	var failed, dropped bool
	deadline := time.After(5 * time.Second)
	for !failed || !dropped {
		select {
		case err := <-errs:
			failed = failed || strings.Contains(err.Error(), "exporting spans: connection refused")
			dropped = dropped || strings.Contains(err.Error(), "3 spans dropped")
		case <-deadline:
			t.Fatalf("reported: failed export %v, dropped spans %v", failed, dropped)
		}
	}
	_ = tp.Shutdown(context.Background())
}
