package jsonlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type stringer struct{}

func (stringer) String() string { return "s" }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

var when = time.Date(2026, 12, 5, 8, 25, 5, 463180782, time.UTC)

// same checks that New writes, for the records log makes (Handle) or
// the lines it writes without one (HandleAttrs), what slog's JSON
// handler writes for its records.
func same(t *testing.T, name string, log func(*slog.Logger)) {
	t.Helper()
	var got, gotAttrs, want bytes.Buffer
	log(slog.New(New(&got)))
	recordAttrs = true
	log(slog.New(New(&gotAttrs)))
	recordAttrs = false
	log(slog.New(slog.NewJSONHandler(&want, nil)))
	if got.String() != want.String() {
		t.Errorf("%s:\n got %s\nwant %s", name, got.String(), want.String())
	}
	if gotAttrs.String() != want.String() {
		t.Errorf("%s, HandleAttrs:\n got %s\nwant %s", name, gotAttrs.String(), want.String())
	}
}

// recordAttrs makes record write through HandleAttrs, where the logger's
// handler is one of New's.
var recordAttrs bool

// record logs a record with a fixed time (or none) through l.
func record(l *slog.Logger, t time.Time, level slog.Level, msg string, attrs ...slog.Attr) {
	if h, ok := l.Handler().(*Handler); ok && recordAttrs {
		if l.Enabled(context.Background(), level) {
			_ = h.HandleAttrs(context.Background(), t, level, msg, 0, attrs)
		}
		return
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	if l.Enabled(context.Background(), level) {
		_ = l.Handler().Handle(context.Background(), r)
	}
}

func TestSameAsSlog(t *testing.T) {
	odd := "a\"b\\c\x00\x01\b\f\n\r\t\x1f<x & y>\u2028\u2029\xff\xfe é 😀 \x7f"
	webhook := []slog.Attr{slog.String("call", "dfe32e77-0000-4000-8000-000000016a43"), slog.String("flow", "ivr"),
		slog.String("version", "65cda3ace4b1a7bc"), slog.Int("step", 1), slog.String("from", ""), slog.String("node", "menu"),
		slog.String("outcome", "waiting"), slog.Any("path", []string{"greet", "menu"})}
	all := []slog.Attr{slog.String("s", odd), slog.Int("i", -42), slog.Uint64("u", 1<<63), slog.Bool("b", true),
		slog.Bool("f", false), slog.Duration("d", 1500*time.Millisecond), slog.Time("t", when),
		slog.Any("nil-list", []string(nil)), slog.Any("empty-list", []string{}), slog.Any("list", []string{odd, "", "x"}),
		slog.String(odd, "key")}
	slowOnes := []slog.Attr{slog.Float64("f", 0.1), slog.Any("err", errors.New(odd)), slog.Any("err-nil", error(nil)),
		slog.Any("stringer", stringer{}), slog.Any("valuer", valuer{}), slog.Group("g", slog.Int("a", 1)),
		slog.Group("", slog.Int("inline", 1)), slog.Group("empty"), {}, slog.Int("", 3), slog.Any("ints", []int{1, 2}),
		slog.Time("y", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), slog.Any("bytes", []byte("hi"))}

	same(t, "webhook", func(l *slog.Logger) { record(l, when, slog.LevelInfo, "webhook", webhook...) })
	same(t, "every kind written fast", func(l *slog.Logger) { record(l, when, slog.LevelWarn, odd, all...) })
	same(t, "no time, no attrs", func(l *slog.Logger) { record(l, time.Time{}, slog.LevelError, "") })
	same(t, "debug is left out", func(l *slog.Logger) { record(l, when, slog.LevelDebug, "x") })
	same(t, "a level between", func(l *slog.Logger) { record(l, when, slog.LevelInfo+2, "x", slog.Int("a", 1)) })
	same(t, "local time", func(l *slog.Logger) {
		record(l, when.In(time.FixedZone("X", -5*3600-30*60)), slog.LevelInfo, "x")
	})
	same(t, "year 10000", func(l *slog.Logger) {
		record(l, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "x", slog.Int("a", 1))
	})
	for _, a := range slowOnes {
		same(t, "slow "+a.String(), func(l *slog.Logger) { record(l, when, slog.LevelInfo, "x", slog.Int("before", 1), a) })
		same(t, "slow with "+a.String(), func(l *slog.Logger) {
			record(l.With(a), when, slog.LevelInfo, "x", slog.Int("after", 1))
		})
	}
	same(t, "with attrs", func(l *slog.Logger) {
		l = l.With("component", "http", "n", 2).With()
		record(l, when, slog.LevelInfo, "x", all...)
		record(l.With("more", odd), when, slog.LevelInfo, "y")
	})
	same(t, "with a group", func(l *slog.Logger) {
		record(l.WithGroup("g").With("a", 1), when, slog.LevelInfo, "x", slog.Int("b", 2))
		record(l.WithGroup("").With("a", 1), when, slog.LevelInfo, "x", slog.Int("b", 2))
		record(l.With("a", 1).WithGroup("g"), when, slog.LevelInfo, "x")
	})
}

// FuzzSameAsSlog: for any message, key and values, New writes what
// slog's JSON handler writes.
func FuzzSameAsSlog(f *testing.F) {
	f.Add("webhook", "call", "dfe32e77", int64(1), "menu", true)
	f.Add("a\"b\\\x00\b\f\u2028\xff", "\n", "\x7f\xe2\x80", int64(-1), "", false)
	f.Fuzz(func(t *testing.T, msg, key, s string, n int64, item string, with bool) {
		same(t, fmt.Sprintf("%q %q %q", msg, key, s), func(l *slog.Logger) {
			if with {
				l = l.With(key, s)
			}
			record(l, when, slog.LevelInfo, msg, slog.String(key, s), slog.Int64("n", n), slog.Any("path", []string{item, s}))
		})
	})
}

// Lines written at once through the fast path and slog's are whole.
func TestConcurrentLinesWhole(t *testing.T) {
	var out bytes.Buffer
	l := slog.New(New(&out))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if i%2 == 0 {
					l.Info("fast", "g", g, "i", i)
				} else {
					l.Info("slow", "g", g, "f", 0.5)
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"time":"`) || !strings.HasSuffix(line, "}") || strings.Count(line, `"msg"`) != 1 {
			t.Fatalf("a line mixed with another: %s", line)
		}
	}
}

func BenchmarkWebhookLine(b *testing.B) {
	path := []string{"greet", "menu"}
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{{"jsonlog", New(discard{})}, {"slog", slog.NewJSONHandler(discard{}, nil)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := slog.NewRecord(when, slog.LevelInfo, "webhook", 0)
				r.AddAttrs(slog.String("call", "dfe32e77-0000-4000-8000-000000016a43"), slog.String("flow", "ivr"),
					slog.String("version", "65cda3ace4b1a7bc"), slog.Int("step", 1), slog.String("from", ""),
					slog.String("node", "menu"), slog.String("outcome", "waiting"), slog.Any("path", path))
				_ = c.h.Handle(context.Background(), r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestHandleAttrsAllocs: a webhook's line of eight attributes written
// through HandleAttrs allocates nothing, where a record of them
// allocates for the three past its five.
func TestHandleAttrsAllocs(t *testing.T) {
	h := New(discard{})
	attrs := []slog.Attr{slog.String("call", "dfe32e77-0000-4000-8000-000000016a43"), slog.String("flow", "ivr"),
		slog.String("version", "65cda3ace4b1a7bc"), slog.Int("step", 1), slog.String("from", ""), slog.String("node", "menu"),
		slog.String("outcome", "waiting"), slog.Any("path", []string{"greet", "menu"})}
	ctx := context.Background()
	// An average under one: a collection that empties the buffers' pool
	// during the runs costs one buffer, not one a line.
	if n := testing.AllocsPerRun(200, func() { _ = h.HandleAttrs(ctx, when, slog.LevelInfo, "webhook", 0, attrs) }); n >= 0.5 {
		t.Errorf("%.2f allocations a line", n)
	}
}

// TestFlushing: NewFlushing's flush runs after each line at Warn or
// above is written, whichever way it is written, and after no other.
func TestFlushing(t *testing.T) {
	var out bytes.Buffer
	var flushed []string // the last line written at each flush
	last := func() string {
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		return lines[len(lines)-1]
	}
	h := NewFlushing(&out, func() { flushed = append(flushed, last()) })
	l := slog.New(h)
	l.Info("info")
	l.Warn("warn", "n", 1)
	l.With("g", 1).Error("with", "f", 0.5) // slog's handler writes it
	l.WithGroup("grp").Warn("group")
	_ = h.HandleAttrs(context.Background(), when, slog.LevelInfo, "attrs-info", 0, nil)
	_ = h.HandleAttrs(context.Background(), when, slog.LevelError, "attrs-error", 0, []slog.Attr{slog.Int("n", 2)})
	want := []string{`"msg":"warn"`, `"msg":"with"`, `"msg":"group"`, `"msg":"attrs-error"`}
	if len(flushed) != len(want) {
		t.Fatalf("flushed after %q, want after %q", flushed, want)
	}
	for i, w := range want {
		if !strings.Contains(flushed[i], w) {
			t.Errorf("flush %d after %s, want after the line with %s", i, flushed[i], w)
		}
	}
}
