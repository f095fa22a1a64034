package rotator

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClientMetrics counts the requests and reconnects of the Hamlib clients. One value serves both
// the rotctld and the rigctld client (label daemon). A nil *ClientMetrics records nothing.
type ClientMetrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	reconnects *prometheus.CounterVec
	up         *prometheus.GaugeVec
}

// NewClientMetrics registers the client metrics on reg (never the global registry).
func NewClientMetrics(reg prometheus.Registerer) (*ClientMetrics, error) {
	m := &ClientMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_hamlib_requests_total",
			Help: "Requests to rotctld/rigctld by command and result (ok, hamlib_error, disconnected, protocol_error, error).",
		}, []string{"daemon", "command", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "talos_hamlib_request_duration_seconds",
			Help:    "Round-trip time of requests to rotctld/rigctld, in seconds, including a reconnect.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"daemon", "command"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_hamlib_reconnects_total",
			Help: "Connections re-established to rotctld/rigctld after a loss.",
		}, []string{"daemon"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "talos_hamlib_connected",
			Help: "1 while the client holds a connection to the daemon, else 0.",
		}, []string{"daemon"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.reconnects, m.up} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register hamlib metrics: %w", err)
		}
	}
	return m, nil
}

func (m *ClientMetrics) observe(daemon, command string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(daemon, command, resultLabel(err)).Inc()
	m.duration.WithLabelValues(daemon, command).Observe(d.Seconds())
}

func (m *ClientMetrics) connected(daemon string, up, reconnect bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(daemon).Set(v)
	if reconnect {
		m.reconnects.WithLabelValues(daemon).Inc()
	}
}

func resultLabel(err error) string {
	var he *HamlibError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &he):
		return "hamlib_error"
	case errors.Is(err, ErrProtocol):
		return "protocol_error"
	case errors.Is(err, ErrDisconnected):
		return "disconnected"
	}
	return "error"
}
