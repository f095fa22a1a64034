package server

import "github.com/prometheus/client_golang/prometheus"

// satMetrics are the satellite protocol's instruments, on the server's registry (the command
// queue's own are backend/commands').
type satMetrics struct {
	held          prometheus.Gauge
	events        *prometheus.CounterVec
	registrations *prometheus.CounterVec
	clockAhead    prometheus.Counter
}

func newSatMetrics(reg *prometheus.Registry) *satMetrics {
	m := &satMetrics{
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_satellite_long_polls_held",
			Help: "Command long-polls currently held open by this replica.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_satellite_events_total",
			Help: "Events received in batches, by result: accepted, duplicate or rejected.",
		}, []string{"result"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_satellite_registrations_total",
			Help: "Registration attempts by HTTP status (201 registered, 401/403 refused, 429 rate-limited).",
		}, []string{"status"}),
		clockAhead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talos_satellite_events_clock_ahead_total",
			Help: "Events stored although their time was more than 5 minutes ahead of the backend's clock (a station clock running fast).",
		}),
	}
	reg.MustRegister(m.held, m.events, m.registrations, m.clockAhead)
	return m
}
