package tracker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the tracker's Prometheus series.
type metrics struct {
	pointingError  prometheus.Gauge
	commandedError prometheus.Gauge
	dopplerError   *prometheus.GaugeVec
	overruns       *prometheus.CounterVec
	lateness       *prometheus.HistogramVec
	retunes        *prometheus.CounterVec
	moves          prometheus.Counter
	deviceErrors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		pointingError: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_tracker_pointing_error_degrees",
			Help: "Angle between the rotator's position read back and the spacecraft when it was read, degrees.",
		}),
		commandedError: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_tracker_commanded_error_degrees",
			Help: "Angle between the position last commanded and the spacecraft, degrees.",
		}),
		dopplerError: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "talos_tracker_doppler_error_hz",
			Help: "Difference between the radio's read-back frequency and the Doppler-corrected one, Hz.",
		}, []string{"link"}),
		overruns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_tracker_overruns_total",
			Help: "Ticks that started more than a period late; their missed slots were skipped.",
		}, []string{"loop"}),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "talos_tracker_tick_lateness_seconds",
			Help:    "How late each tick started after its slot, seconds.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5},
		}, []string{"loop"}),
		retunes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_tracker_retunes_total",
			Help: "Frequency changes sent to the radio.",
		}, []string{"link"}),
		moves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talos_tracker_moves_total",
			Help: "Position commands sent to the rotator.",
		}),
		deviceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_tracker_device_errors_total",
			Help: "Failed rotator or radio calls made by the tracker.",
		}, []string{"device"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.pointingError, m.commandedError, m.dopplerError, m.overruns, m.lateness, m.retunes, m.moves, m.deviceErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("tracker metrics: already registered (one tracker per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}
