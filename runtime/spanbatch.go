package runtime

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// spanBatcher is the span processor of flowd's tracer: it hands ended
// spans to the OTLP exporter in batches, as the SDK's BatchSpanProcessor
// does, but collects them in a slice under a mutex instead of sending
// each over a channel. The SDK's channel wakes its export goroutine for
// every span — a goroutine switch per webhook on a busy core, about a
// fifth of what tracing cost a webhook — where this wakes it once per
// batch, or when the schedule delay passes. It reads the standard
// OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (milliseconds),
// OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE, with the
// SDK's defaults (5000, 30000, 2048, 512). Spans beyond the queue are
// dropped, never waited for: a webhook does not slow down for a slow
// collector.
type spanBatcher struct {
	exp                  sdktrace.SpanExporter
	delay, timeout       time.Duration
	maxQueue, maxBatch   int
	mu                   sync.Mutex
	spans                []sdktrace.ReadOnlySpan
	dropped              int
	kick, stop, finished chan struct{}
	exportMu             sync.Mutex // one export at a time, in order
	stopOnce             sync.Once
}

func newSpanBatcher(exp sdktrace.SpanExporter) *spanBatcher {
	b := &spanBatcher{
		exp:      exp,
		delay:    envMillis(os.Getenv("OTEL_BSP_SCHEDULE_DELAY"), 5000),
		timeout:  envMillis(os.Getenv("OTEL_BSP_EXPORT_TIMEOUT"), 30000),
		maxQueue: envInt(os.Getenv("OTEL_BSP_MAX_QUEUE_SIZE"), 2048),
		maxBatch: envInt(os.Getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), 512),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	b.maxBatch = min(b.maxBatch, b.maxQueue)
	go b.loop()
	return b
}

// envInt reads a positive count from an environment variable's value,
// else def; envMillis milliseconds.
func envInt(v string, def int) int {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return n
	}
	return def
}

func envMillis(v string, def int) time.Duration {
	return time.Duration(envInt(v, def)) * time.Millisecond
}

func (b *spanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (b *spanBatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if len(b.spans) >= b.maxQueue {
		b.dropped++
		b.mu.Unlock()
		return
	}
	b.spans = append(b.spans, s)
	full := len(b.spans) >= b.maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *spanBatcher) loop() {
	defer close(b.finished)
	t := time.NewTicker(b.delay)
	defer t.Stop()
	for {
		all := true
		select {
		case <-b.stop:
			return
		case <-b.kick:
			all = false // full batches only: the rest fills the next one
		case <-t.C:
		}
		// A failed export, and spans dropped for a full queue, go to
		// OpenTelemetry's error handler (flowd serve logs them): the
		// spans are lost either way, the operator should know.
		if err := b.export(context.Background(), all); err != nil {
			otel.Handle(fmt.Errorf("exporting spans: %w", err))
		}
		b.mu.Lock()
		dropped := b.dropped
		b.dropped = 0
		b.mu.Unlock()
		if dropped > 0 {
			otel.Handle(fmt.Errorf("%d spans dropped: the export queue (OTEL_BSP_MAX_QUEUE_SIZE %d) was full", dropped, b.maxQueue))
		}
	}
}

// export sends what is queued, a batch at a time: every span, or only
// full batches.
func (b *spanBatcher) export(ctx context.Context, all bool) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.spans), b.maxBatch)
		if n == 0 || !all && n < b.maxBatch {
			b.mu.Unlock()
			return nil
		}
		batch := make([]sdktrace.ReadOnlySpan, n)
		copy(batch, b.spans)
		rest := copy(b.spans, b.spans[n:])
		clear(b.spans[rest:])
		b.spans = b.spans[:rest]
		b.mu.Unlock()
		ectx, cancel := context.WithTimeout(ctx, b.timeout)
		err := b.exp.ExportSpans(ectx, batch)
		cancel()
		if err != nil {
			return err
		}
	}
}

func (b *spanBatcher) ForceFlush(ctx context.Context) error { return b.export(ctx, true) }

func (b *spanBatcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		close(b.stop)
		<-b.finished
		err = b.export(ctx, true)
		if e := b.exp.Shutdown(ctx); err == nil {
			err = e
		}
	})
	return err
}
