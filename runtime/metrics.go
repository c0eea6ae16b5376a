package runtime

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	m.reg.MustRegister(m.webhooks, m.latency, m.errors, m.reloads, m.events, live,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
