package runner

import (
	"fmt"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/state"
)

// ApplyConfig applies a validated config.update (executor.Settings): intervals take effect at
// the loops' next wait and are persisted in identity.json; the log level changes at once.
func (r *Runner) ApplyConfig(p api.ConfigUpdatePayload) (api.ConfigUpdateResult, error) {
	iv := r.intervals()
	if p.HeartbeatSeconds != nil {
		iv.HeartbeatSeconds = *p.HeartbeatSeconds
		r.heartbeat.SetInterval(time.Duration(iv.HeartbeatSeconds) * time.Second)
	}
	if p.EventsSeconds != nil {
		iv.EventsSeconds = *p.EventsSeconds
		r.outbox.SetFlushInterval(time.Duration(iv.EventsSeconds) * time.Second)
	}
	if p.LongPollSeconds != nil {
		iv.LongPollSeconds = *p.LongPollSeconds
		r.setIntervals(iv)
		r.poller.SetLongPoll(r.longPoll())
	}
	if p.LogLevel != "" {
		lvl, err := zapcore.ParseLevel(p.LogLevel)
		if err != nil {
			return api.ConfigUpdateResult{}, fmt.Errorf("log_level: %w", err)
		}
		r.opts.Level.SetLevel(lvl)
	}
	r.setIntervals(iv)
	if err := state.SaveIntervals(r.cfg.StateDir, iv); err != nil {
		return api.ConfigUpdateResult{}, fmt.Errorf("persist intervals: %w", err)
	}
	r.log.Info("configuration updated by the backend", zap.Int("heartbeat_seconds", int(r.heartbeat.Interval().Seconds())),
		zap.Duration("events_interval", r.outbox.FlushInterval()), zap.Duration("long_poll", r.poller.LongPoll()),
		zap.String("log_level", r.opts.Level.String()))
	return api.ConfigUpdateResult{HeartbeatSeconds: int(r.heartbeat.Interval() / time.Second),
		EventsSeconds: int(r.outbox.FlushInterval() / time.Second), LongPollSeconds: int(r.poller.LongPoll() / time.Second),
		LogLevel: r.opts.Level.String()}, nil
}

// SetMaintenance switches maintenance mode (executor.Maintenance). It is persisted, and a
// heartbeat goes out at once so the backend applies its maintenance interval without delay.
func (r *Runner) SetMaintenance(on bool, reason string) error {
	if err := r.commands.SetMaintenance(on); err != nil {
		return fmt.Errorf("persist maintenance flag: %w", err)
	}
	r.maintenance.Store(on)
	r.log.Info("maintenance mode changed", zap.Bool("maintenance", on), zap.String("reason", reason))
	r.heartbeat.Trigger()
	return nil
}

// Status is the health state reported in heartbeats.
func (r *Runner) Status() api.SatelliteStatus {
	if r.maintenance.Load() {
		return api.StatusMaintenance
	}
	return api.StatusOnline
}
