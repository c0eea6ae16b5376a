package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestLogStepLine: the webhook's log line is the one s.log.Info writes
// with the same attributes, through the JSON and the text handler, and
// none when the logger's level leaves Info out.
func TestLogStepLine(t *testing.T) {
	odd := "a\"b\\c\x00\n<x & y>\u2028\xff é"
	sessions := []*CallState{
		{CallUUID: "c1", Flow: "ivr", Version: "v1", Step: 1, Wait: "menu"},
		{CallUUID: odd, Flow: "a\"b\\c\n<x & y>\u2028 é", Version: odd, Step: 1234567, Wait: odd}, // a metrics label is UTF-8
		{},
	}
	results := []flow.Result{
		{Path: []string{"greet", "menu"}, Wait: &flow.Node{}},
		{Path: []string{odd, "sub/ask", ""}},
		{},
		{Path: []string{}, Err: &flow.RunError{Flow: "ivr", Node: "x", Err: context.Canceled}},
	}
	stamp := regexp.MustCompile(`"time":"[^"]*"|time=\S+`)
	for _, mk := range []func(*bytes.Buffer, *slog.HandlerOptions) slog.Handler{
		func(b *bytes.Buffer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(b, o) },
		func(b *bytes.Buffer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(b, o) },
	} {
		for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
			var got, want bytes.Buffer
			opts := &slog.HandlerOptions{Level: level}
			s := &Server{log: slog.New(mk(&got, opts))}
			s.metrics = newMetrics(NewMemory())
			std := slog.New(mk(&want, opts)).With("k", "v")
			s.log = s.log.With("k", "v")
			for _, sess := range sessions {
				for _, res := range results {
					for _, from := range []string{"", "menu", odd} {
						r := httptest.NewRequest("POST", "/flows/ivr/answer", nil)
						got.Reset()
						want.Reset()
						s.logStep(r, sess, res, from, "input")
						if res.Err != nil {
							node := ""
							if e, ok := res.Err.(*flow.RunError); ok {
								node = e.Node
							}
							std.Error("run-time error", "call", sess.CallUUID, "flow", sess.Flow, "node", node, "err", res.Err)
						}
						std.Info("webhook", "call", sess.CallUUID, "flow", sess.Flow, "version", sess.Version, "step", sess.Step,
							"from", from, "node", sess.Wait, "outcome", outcomeLabel(res), "path", res.Path)
						g, w := stamp.ReplaceAllString(got.String(), "T"), stamp.ReplaceAllString(want.String(), "T")
						if g != w {
							t.Fatalf("level %v: logged\n%s\nwant\n%s", level, g, w)
						}
						if level > slog.LevelInfo && strings.Contains(g, "webhook") {
							t.Fatalf("level %v: logged %s", level, g)
						}
					}
				}
			}
		}
	}
}

// TestLogStepSource: with AddSource, the webhook's line names logStep
// as its source, on every webhook.
func TestLogStepSource(t *testing.T) {
	var buf bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true}))}
	s.metrics = newMetrics(NewMemory())
	for range 3 {
		buf.Reset()
		s.logStep(httptest.NewRequest("POST", "/", nil), &CallState{CallUUID: "c1"}, flow.Result{}, "", answerOutcome)
		if !strings.Contains(buf.String(), `"function":"github.com/flowd-dev/flowd/runtime.(*Server).logStep"`) ||
			!strings.Contains(buf.String(), `runtime/webhooks.go"`) {
			t.Fatalf("source: %s", buf.String())
		}
	}
}
