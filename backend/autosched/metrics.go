package autosched

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the auto-scheduler's Prometheus instruments (docs/autoscheduler.md).
type Metrics struct {
	// Runs counts runs this replica made, by outcome: ok, failed.
	Runs *prometheus.CounterVec
	// Passes counts the passes runs chose, by outcome: booked, refused (by the observations
	// service).
	Passes *prometheus.CounterVec
	// RunSeconds is how long runs took, planning and booking included.
	RunSeconds prometheus.Histogram
}

// NewMetrics makes the instruments and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_autosched_runs_total",
			Help: "Auto-scheduler runs made by this replica, by outcome (ok, failed).",
		}, []string{"outcome"}),
		Passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_autosched_passes_total",
			Help: "Passes the auto-scheduler chose, by outcome (booked, refused by the observations service).",
		}, []string{"outcome"}),
		RunSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "talos_autosched_run_seconds",
			Help:    "How long auto-scheduler runs took, planning and booking included.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 10),
		}),
	}
	reg.MustRegister(m.Runs, m.Passes, m.RunSeconds)
	return m
}

// observe counts one finished run.
func (m *Metrics) observe(rep *Report, err error, seconds float64) {
	if m == nil {
		return
	}
	m.RunSeconds.Observe(seconds)
	if err != nil {
		m.Runs.WithLabelValues("failed").Inc()
		return
	}
	m.Runs.WithLabelValues("ok").Inc()
	m.Passes.WithLabelValues("booked").Add(float64(len(rep.Chosen)))
	refused := 0
	for i := range rep.Skipped {
		if rep.Skipped[i].Reason == ReasonRefused {
			refused++
		}
	}
	m.Passes.WithLabelValues("refused").Add(float64(refused))
}
