package runtime

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/internal/plivosim"
)

const menuFlow = `
flow: menu
nodes:
  greet:
    Speak: Hello.
    next: menu
  menu:
    GetDigits:
      numDigits: 1
      children:
        - Speak: Press 1.
    on: { no_input: bye }
    next: thanks
  thanks:
    Speak: Thanks.
  bye:
    Speak: Bye.
`

// TestNodeMetrics: /metrics counts, per node, the times the walk reached
// it and the calls that ended there (the flow ended, or the caller hung
// up waiting there); a retried webhook counts nothing.
func TestNodeMetrics(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: testRegistry(t, "menu.yaml", menuFlow), Store: st}))
	t.Cleanup(srv.Close)
	sim := &plivosim.Sim{Client: srv.Client(), HangupURL: srv.URL + "/flows/menu/hangup"}
	ctx := context.Background()
	answer := srv.URL + "/flows/menu/answer"

	a, err := sim.Call(ctx, answer, nil) // presses 1: ends at thanks
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Retry(); err != nil { // Plivo retries the answer
		t.Fatal(err)
	}
	if err := a.Press("1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Hangup(); err != nil {
		t.Fatal(err)
	}
	b, err := sim.Call(ctx, answer, nil) // hangs up at the menu
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Hangup(); err != nil {
		t.Fatal(err)
	}
	c, err := sim.Call(ctx, answer, nil) // says nothing: ends at bye
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NoInput(); err != nil {
		t.Fatal(err)
	}

	body := metricsText(t, srv.URL)
	for _, want := range []string{
		`flowd_node_visits_total{flow="menu",node="greet"} 3`,
		`flowd_node_visits_total{flow="menu",node="menu"} 3`,
		`flowd_node_visits_total{flow="menu",node="thanks"} 1`,
		`flowd_node_visits_total{flow="menu",node="bye"} 1`,
		`flowd_node_exits_total{flow="menu",node="thanks"} 1`,
		`flowd_node_exits_total{flow="menu",node="menu"} 1`,
		`flowd_node_exits_total{flow="menu",node="bye"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `flowd_node_exits_total{flow="menu",node="greet"}`) {
		t.Error("greet counts an exit")
	}
}

// TestNodeMetricsSubflowExit: a walk that ends when a subflow returns into
// a calling node with no edge for its outcome ends at that node, in the
// caller; one whose subflow hangs up ends at the subflow's Hangup.
func TestNodeMetricsSubflowExit(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"top.yaml": "flow: top\nnodes:\n  ask:\n    GetDigits: { numDigits: 1 }\n    next: pick\n  pick:\n    branch:\n      - when: input.Digits == \"1\"\n        next: run\n    next: drop\n  run:\n    subflow: say\n  drop:\n    subflow: bye\n",
		"say.yaml": "flow: say\nnodes:\n  hi:\n    Speak: Hi.\n",
		"bye.yaml": "flow: bye\nnodes:\n  sorry:\n    Speak: Sorry.\n    next: end\n  end:\n    Hangup: {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := NewRegistry(dir, slog.New(slog.DiscardHandler))
	if !reg.Reload() {
		t.Fatal("the flows do not load")
	}
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st}))
	t.Cleanup(srv.Close)
	sim := &plivosim.Sim{Client: srv.Client()}
	for _, key := range []string{"1", "2"} {
		c, err := sim.Call(context.Background(), srv.URL+"/flows/top/answer", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	body := metricsText(t, srv.URL)
	for _, want := range []string{
		`flowd_node_exits_total{flow="top",node="run"} 1`,
		`flowd_node_exits_total{flow="bye",node="end"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `flowd_node_exits_total{flow="say",node="hi"}`) {
		t.Error("the subflow's last node counts the exit of a walk that returned from it")
	}
}

// metricsText returns what a server's /metrics answers.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
