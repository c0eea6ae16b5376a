package runtime

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowd-dev/flowd/flow"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so tests can run several servers in one process.
type metrics struct {
	reg      *prometheus.Registry
	webhooks *prometheus.CounterVec   // flow, webhook, outcome
	latency  *prometheus.HistogramVec // webhook
	errors   *prometheus.CounterVec   // flow, kind
	reloads  *prometheus.CounterVec   // result
	events   *prometheus.CounterVec   // flow, kind
	visits   *prometheus.CounterVec   // flow, node
	exits    *prometheus.CounterVec   // flow, node
	// nodes are the console's counts of the same visits and exits, over
	// the last hour too (nodecounts.go).
	nodes *nodeCounts
}

func newMetrics(st Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_webhooks_total", Help: "Webhooks answered, by flow, webhook kind and outcome.",
		}, []string{"flow", "webhook", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flowd_webhook_duration_seconds", Help: "Time to answer a webhook.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"webhook"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_errors_total", Help: "Errors, by flow and kind (runtime, store, stale, forged, bad_request).",
		}, []string{"flow", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_reloads_total", Help: "Reloads of the flows folder, by result (ok, failed).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_callback_events_total", Help: "Status and recording callbacks received, by flow and kind.",
		}, []string{"flow", "kind"}),
		visits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_node_visits_total", Help: "Times the walk reached a node, by flow and node.",
		}, []string{"flow", "node"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowd_node_exits_total", Help: "Calls that ended at a node (the flow ended there, or the caller hung up waiting there), by flow and node.",
		}, []string{"flow", "node"}),
	}
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flowd_sessions_live", Help: "Sessions of calls that have not hung up, in the store.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.Live(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	// Reload results exist from the start, at zero, so dashboards and
	// alerts see the series before the first reload.
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	m.reg.MustRegister(m.webhooks, m.latency, m.errors, m.reloads, m.events, m.visits, m.exits, live,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// walked counts a webhook's walk: each node it reached, and the node the
// call ended at when the flow ended in it. Retried webhooks, which answer
// the stored XML, are not walked and not counted. hungUp says the call's
// hangup came before this walk was written (a late callback, a step the
// hangup overtook) and counted its end where the caller waited.
func (m *metrics) walked(g *flow.Graph, res flow.Result, hungUp bool) {
	exit := ""
	if res.Wait == nil && len(res.Path) > 0 && !hungUp {
		exit = res.Path[len(res.Path)-1]
		// A walk that ends after a subflow returned ends at the calling
		// node (it had no edge for the outcome), not at the subflow's
		// last node — unless that node ended the call itself (Hangup).
		for strings.Contains(exit, flow.NodePathSep) {
			if _, n := g.Locate(exit); n == nil || n.EndsCall() {
				break
			}
			exit = exit[:strings.LastIndex(exit, flow.NodePathSep)]
		}
	}
	if !slices.ContainsFunc(res.Path, func(id string) bool { return strings.Contains(id, flow.NodePathSep) }) {
		for _, id := range res.Path {
			m.visits.WithLabelValues(g.Name, id).Inc()
		}
		if exit != "" {
			m.exits.WithLabelValues(g.Name, exit).Inc()
		}
		m.nodes.add(g.Name, res.Path, exit)
		return
	}
	// A walk into a subflow: each node counts in its own flow.
	for _, id := range res.Path {
		flowName, node := nodeLabels(g, id)
		m.visits.WithLabelValues(flowName, node).Inc()
		m.nodes.add(flowName, []string{node}, "")
	}
	if exit != "" {
		m.exited(nodeLabels(g, exit))
	}
}

// exited counts a call that hung up waiting at a node.
func (m *metrics) exited(flowName, node string) {
	m.exits.WithLabelValues(flowName, node).Inc()
	m.nodes.add(flowName, nil, node)
}

// nodeLabels returns the flow and node labels of a node a walk of g
// names: a node inside a subflow (check_pin/ask) counts in the subflow's
// own series (pin-check, ask), so each flow's counts are its own nodes'.
func nodeLabels(g *flow.Graph, id string) (string, string) {
	if !strings.Contains(id, flow.NodePathSep) {
		return g.Name, id
	}
	sg, n := g.Locate(id)
	if n == nil {
		return g.Name, id
	}
	return sg.Name, n.ID
}
