package runtime

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// TestNodeCountsWindow: a node's counts since start never drop; its last
// hour's are the sum of the latest 60 minutes, read at the injected
// clock, and a minute's bucket is reused an hour later from zero.
func TestNodeCountsWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	now := t0
	c := newNodeCounts(func() time.Time { return now }, func(name string) bool { return name == "ivr" })
	at := func(d time.Duration) { now = t0.Add(d) }
	want := func(node string, w NodeCount) {
		t.Helper()
		if got := c.flow("ivr")[node]; got != w {
			t.Errorf("at +%v, %s: %+v, want %+v", now.Sub(t0), node, got, w)
		}
	}

	c.add("ivr", []string{"greet", "menu"}, "")
	at(30 * time.Minute)
	c.add("ivr", []string{"greet", "menu"}, "")
	c.add("ivr", nil, "menu") // a caller hung up at the menu
	at(59*time.Minute + 59*time.Second)
	c.add("ivr", []string{"route", "sales"}, "sales")
	want("greet", NodeCount{Visits: 2, VisitsHour: 2})
	want("menu", NodeCount{Visits: 2, Exits: 1, VisitsHour: 2, ExitsHour: 1})
	want("sales", NodeCount{Visits: 1, Exits: 1, VisitsHour: 1, ExitsHour: 1})

	at(60 * time.Minute) // the first minute has left the hour
	want("greet", NodeCount{Visits: 2, VisitsHour: 1})
	at(90 * time.Minute)
	want("menu", NodeCount{Visits: 2, Exits: 1})
	want("sales", NodeCount{Visits: 1, Exits: 1, VisitsHour: 1, ExitsHour: 1})

	// Two hours on, the same minute's bucket starts again from zero.
	at(2 * time.Hour)
	c.add("ivr", []string{"greet"}, "")
	want("greet", NodeCount{Visits: 3, VisitsHour: 1})
	if got := c.flow("ivr")["support"]; got != (NodeCount{}) {
		t.Errorf("a node no call reached: %+v", got)
	}
}

// TestNodeCountsBounded: flows the registry does not serve are not
// counted, and a flow keeps at most maxCountedNodes node ids.
func TestNodeCountsBounded(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	c := newNodeCounts(func() time.Time { return now }, func(name string) bool { return name == "ivr" })
	c.add("gone", []string{"greet"}, "greet")
	if n := len(c.flow("gone")); n != 0 {
		t.Errorf("a flow not served has %d counted nodes", n)
	}
	for i := range maxCountedNodes + 10 {
		c.add("ivr", []string{fmt.Sprintf("n%d", i)}, "")
	}
	if n := len(c.flow("ivr")); n != maxCountedNodes {
		t.Errorf("%d counted nodes, want at most %d", n, maxCountedNodes)
	}
	var nilCounts *nodeCounts
	nilCounts.add("ivr", []string{"greet"}, "") // a metrics without counts (nil) counts nothing
}

// TestNodeCountsMatchMetrics: the console's counts since start are the
// /metrics counters, fed from the same walks and hangups.
func TestNodeCountsMatchMetrics(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := New(Config{Registry: testRegistry(t, "menu.yaml", menuFlow), Store: st})
	m := srv.metrics
	g := srv.reg.Current("menu")
	m.walked(g, walkResult([]string{"greet", "menu"}, true), false)
	m.walked(g, walkResult([]string{"thanks"}, false), false)
	m.exited("menu", "menu")
	got := m.nodes.flow("menu")
	for node, want := range map[string]NodeCount{
		"greet":  {Visits: 1, VisitsHour: 1},
		"menu":   {Visits: 1, Exits: 1, VisitsHour: 1, ExitsHour: 1},
		"thanks": {Visits: 1, Exits: 1, VisitsHour: 1, ExitsHour: 1},
	} {
		if got[node] != want {
			t.Errorf("%s: %+v, want %+v", node, got[node], want)
		}
	}
}

// walkResult is a walk of path that waits at its last node, or ends there.
func walkResult(path []string, waits bool) flow.Result {
	res := flow.Result{Path: path}
	if waits {
		res.Wait = &flow.Node{ID: path[len(path)-1]}
	}
	return res
}
