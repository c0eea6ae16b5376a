package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each write it is given.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) got() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.writes, ""), len(c.writes)
}

func TestLogWriterBatchesInOrder(t *testing.T) {
	out := &countingWriter{}
	l := newLogWriter(out, time.Hour)
	var want strings.Builder
	for i := range 1000 {
		line := strings.Repeat("x", i%300) + "\n"
		want.WriteString(line)
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("y", logBufSize+10) + "\n"
	want.WriteString(big)
	_, _ = l.Write([]byte(big))
	_, _ = l.Write([]byte("last\n"))
	want.WriteString("last\n")
	l.Flush()
	got, writes := out.got()
	if got != want.String() {
		t.Fatalf("the lines came out changed or out of order (%d bytes, want %d)", len(got), want.Len())
	}
	// 150 KB of lines in 64 KiB writes, the big line alone, the rest.
	if writes > 6 {
		t.Errorf("%d writes for 1,002 lines: the lines were not batched", writes)
	}
}

func TestLogWriterFlushesAtWarn(t *testing.T) {
	out := &countingWriter{}
	l := newLogWriter(out, time.Hour) // only a warning or Flush writes
	log := newLogger(l)
	log.Info("webhook", "call", "a")
	log.Info("webhook", "call", "b")
	if got, _ := out.got(); got != "" {
		t.Fatalf("an Info line was written before a warning or the delay: %q", got)
	}
	log.With("component", "http").Warn("trouble")
	got, writes := out.got()
	if writes != 1 || !strings.Contains(got, `"call":"a"`) || !strings.Contains(got, `"call":"b"`) ||
		!strings.Contains(got, `"msg":"trouble"`) || strings.Index(got, `"call":"b"`) > strings.Index(got, "trouble") {
		t.Fatalf("a warning must be written before Warn returns, after the lines before it, in one write; got %d writes: %q", writes, got)
	}
	log.WithGroup("g").Error("worse", "k", 1)
	if got, _ := out.got(); !strings.Contains(got, `"msg":"worse"`) {
		t.Fatalf("an error logged through a group was not written at once: %q", got)
	}
}

// signalWriter hands each write to a channel.
type signalWriter chan string

func (c signalWriter) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

// An Info line is written without a flush once the delay has passed. The
// test waits for that write (10 s at most) rather than for a set time.
func TestLogWriterWritesAfterDelay(t *testing.T) {
	out := make(signalWriter, 4)
	l := newLogWriter(out, time.Millisecond)
	_, _ = l.Write([]byte("one\n"))
	select {
	case got := <-out:
		if got != "one\n" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a line waited more than 10 s to be written (the delay is 1 ms)")
	}
}

func TestBufferLogLeavesOtherWritersBuffered(t *testing.T) {
	var b bytes.Buffer
	w, flush := bufferLog(&b)
	if _, ok := w.(*logWriter); !ok {
		t.Fatalf("bufferLog(%T) = %T, want a *logWriter", &b, w)
	}
	slog.New(slog.NewTextHandler(w, nil)).Info("x")
	if b.Len() != 0 {
		t.Fatal("written before the flush")
	}
	flush()
	if !strings.Contains(b.String(), "msg=x") {
		t.Fatalf("flush wrote %q", b.String())
	}
}
