package server

import (
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/talos-gs/talos/backend/store"
)

// metrics are the server's Prometheus instruments, on a registry of its own (not the global
// one), so several servers in one test process do not collide.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	panics        prometheus.Counter
	auditFailures prometheus.Counter
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "talos_http_request_duration_seconds",
			Help:    "HTTP request latency in seconds by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talos_http_panics_total",
			Help: "Handler panics recovered (each answered with a 500).",
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talos_audit_write_failures_total",
			Help: "Audit entries that could not be written.",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.panics, m.auditFailures, newSatelliteGauge(st),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		// Pool gauges read from sql.DB.Stats() at every scrape: open, in use, idle, waits.
		collectors.NewDBStatsCollector(st.SQL(), string(st.Dialect())))
	return m
}

// observe counts and times every request by its route pattern (never the raw path, which would
// let clients mint unbounded label values).
func (s *Server) metricsObserve(c *gin.Context) {
	start := s.opts.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
	s.metrics.latency.WithLabelValues(route, c.Request.Method).Observe(sinceSeconds(start, s.opts.Now()))
}

func (m *metrics) handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
	return gin.WrapH(h)
}
