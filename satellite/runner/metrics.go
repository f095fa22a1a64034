package runner

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talos-gs/talos/backend/api"
)

// registerMetrics exposes the loops' figures on the runner's own registry (GET /metrics).
func (r *Runner) registerMetrics() error {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	collectors := []prometheus.Collector{
		gauge("talos_satellite_outbox_depth", "Events waiting to be sent.", func() float64 { return float64(r.outbox.Depth()) }),
		gauge("talos_satellite_outbox_bytes", "Stored size of the queued events.", func() float64 { return float64(r.outbox.Bytes()) }),
		counter("talos_satellite_events_dropped_total", "Events discarded because the outbox was full or they could not be stored.",
			func() float64 { return float64(r.outbox.Dropped()) }),
		counter("talos_satellite_events_truncated_total", "Events whose message or data was cut to the backend's per-event limits.",
			func() float64 { return float64(r.outbox.Truncated()) }),
		counter("talos_satellite_events_rejected_total", "Events the backend refused for good.", func() float64 { return float64(r.outbox.Rejected()) }),
		counter("talos_satellite_events_quarantined_total", "Events put in the outbox quarantine (refused by the backend, kept on disk).",
			func() float64 { return float64(r.outbox.QuarantinedTotal()) }),
		gauge("talos_satellite_outbox_quarantined", "Events held in the outbox quarantine.", func() float64 { return float64(r.outbox.Quarantined()) }),
		counter("talos_satellite_events_sent_total", "Events the backend took (accepted or duplicate).", func() float64 { return float64(r.outbox.Sent()) }),
		counter("talos_satellite_commands_succeeded_total", "Commands that succeeded.", func() float64 { return float64(r.executor.Finished(api.CommandSucceeded)) }),
		counter("talos_satellite_commands_failed_total", "Commands that failed.", func() float64 { return float64(r.executor.Finished(api.CommandFailed)) }),
		gauge("talos_satellite_commands_running", "Commands being run.", func() float64 { return float64(r.executor.Running()) }),
		gauge("talos_satellite_poll_consecutive_failures", "Failed polls since the last success.", func() float64 { return float64(r.poller.Stats().Failures) }),
		gauge("talos_satellite_heartbeat_consecutive_failures", "Failed heartbeats since the last success.", func() float64 { return float64(r.heartbeat.Stats().Failures) }),
		gauge("talos_satellite_maintenance", "1 while in maintenance mode.", func() float64 {
			if r.maintenance.Load() {
				return 1
			}
			return 0
		}),
	}
	for _, c := range collectors {
		if err := r.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}
