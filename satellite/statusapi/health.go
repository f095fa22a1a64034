// Package statusapi is the runner's local status endpoint, bound to the loopback interface
// only: GET /api/status/backend (the connection to the backend), GET /api/status (the whole
// local picture, used by `talos-satellite status`) and GET /metrics (Prometheus, on the
// runner's own registry).
package statusapi

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/talos-gs/talos/satellite/client"
)

// Connection states reported by /api/status/backend.
const (
	StateUnknown      = "unknown"      // no call made yet
	StateConnected    = "connected"    // the latest call was answered with success
	StateDegraded     = "degraded"     // the backend answered, but with an error
	StateDisconnected = "disconnected" // the latest call got no answer at all
	StateUnauthorized = "unauthorized" // the key was refused: re-register
)

// BackendHealth is the body of GET /api/status/backend.
type BackendHealth struct {
	State               string    `json:"state"`
	URL                 string    `json:"url"`
	LastAttempt         time.Time `json:"last_attempt,omitzero"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	ResponseTimeMS      float64   `json:"response_time_ms"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
}

// Health follows the connection to the backend. It is the client's Observer.
type Health struct {
	now      func() time.Time
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu sync.Mutex
	h  BackendHealth
}

// NewHealth registers the backend call metrics on reg.
func NewHealth(url string, reg prometheus.Registerer, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	h := &Health{now: now, h: BackendHealth{State: StateUnknown, URL: url},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_satellite_backend_requests_total",
			Help: "Calls to the backend by operation and result (ok, no_answer, or the HTTP status).",
		}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "talos_satellite_backend_request_duration_seconds",
			Help:    "Duration of calls to the backend, including long-poll waits.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(h.requests, h.duration)
	}
	return h
}

// ObserveCall records one call (client.Observer).
func (h *Health) ObserveCall(op string, status int, elapsed time.Duration, err error) {
	result := "ok"
	switch {
	case status == 0 && err != nil:
		result = "no_answer"
	case err != nil:
		result = strconv.Itoa(status)
	}
	h.requests.WithLabelValues(op, result).Inc()
	h.duration.WithLabelValues(op).Observe(elapsed.Seconds())

	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now().UTC()
	h.h.LastAttempt = now
	if op != client.OpLongPoll { // a long-poll's duration is the backend's wait, not latency
		h.h.ResponseTimeMS = float64(elapsed.Microseconds()) / 1000
	}
	if err == nil {
		h.h.State, h.h.LastSuccess, h.h.ConsecutiveFailures = StateConnected, now, 0
		return
	}
	h.h.ConsecutiveFailures++
	h.h.LastError, h.h.LastErrorAt = err.Error(), now
	switch {
	case errors.Is(err, client.ErrUnauthorized):
		h.h.State = StateUnauthorized
	case status == 0:
		h.h.State = StateDisconnected
	default:
		h.h.State = StateDegraded
	}
}

// Snapshot returns the current connection state.
func (h *Health) Snapshot() BackendHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h
}
