package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`flowd_node_visits_total{flow="menu",node="greet"} 3`,
		`flowd_node_visits_total{flow="menu",node="menu"} 3`,
		`flowd_node_visits_total{flow="menu",node="thanks"} 1`,
		`flowd_node_visits_total{flow="menu",node="bye"} 1`,
		`flowd_node_exits_total{flow="menu",node="thanks"} 1`,
		`flowd_node_exits_total{flow="menu",node="menu"} 1`,
		`flowd_node_exits_total{flow="menu",node="bye"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `flowd_node_exits_total{flow="menu",node="greet"}`) {
		t.Error("greet counts an exit")
	}
}
