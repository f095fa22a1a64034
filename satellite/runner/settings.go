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
//
// Updates are serialised under ivMu, from reading the intervals to persisting them and setting
// the loops: two config.update commands run by different workers would otherwise both start
// from the same intervals, and the second to save would undo the first's change.
func (r *Runner) ApplyConfig(p api.ConfigUpdatePayload) (api.ConfigUpdateResult, error) {
	var lvl *zapcore.Level
	if p.LogLevel != "" {
		parsed, err := zapcore.ParseLevel(p.LogLevel)
		if err != nil {
			return api.ConfigUpdateResult{}, fmt.Errorf("log_level: %w", err)
		}
		lvl = &parsed
	}
	r.ivMu.Lock()
	defer r.ivMu.Unlock()
	iv := r.identity.Intervals
	if p.HeartbeatSeconds != nil {
		iv.HeartbeatSeconds = *p.HeartbeatSeconds
	}
	if p.EventsSeconds != nil {
		iv.EventsSeconds = *p.EventsSeconds
	}
	if p.LongPollSeconds != nil {
		iv.LongPollSeconds = *p.LongPollSeconds
	}
	// Persisted first: a change the runner cannot keep is refused, not half applied.
	if err := state.SaveIntervals(r.cfg.StateDir, iv); err != nil {
		return api.ConfigUpdateResult{}, fmt.Errorf("persist intervals: %w", err)
	}
	r.identity.Intervals = iv
	r.applyIntervalsLocked(p, iv)
	if lvl != nil {
		r.opts.Level.SetLevel(*lvl)
	}
	r.log.Info("configuration updated by the backend", zap.Int("heartbeat_seconds", int(r.heartbeat.Interval().Seconds())),
		zap.Duration("events_interval", r.outbox.FlushInterval()), zap.Duration("long_poll", r.poller.LongPoll()),
		zap.String("log_level", r.opts.Level.String()))
	return api.ConfigUpdateResult{HeartbeatSeconds: int(r.heartbeat.Interval() / time.Second),
		EventsSeconds: int(r.outbox.FlushInterval() / time.Second), LongPollSeconds: int(r.poller.LongPoll() / time.Second),
		LogLevel: r.opts.Level.String()}, nil
}

// applyIntervalsLocked hands the changed intervals to the loops; the caller holds ivMu (so it
// cannot call longPoll, which takes it).
func (r *Runner) applyIntervalsLocked(p api.ConfigUpdatePayload, iv api.Intervals) {
	if p.HeartbeatSeconds != nil {
		r.heartbeat.SetInterval(time.Duration(iv.HeartbeatSeconds) * time.Second)
	}
	if p.EventsSeconds != nil {
		r.outbox.SetFlushInterval(time.Duration(iv.EventsSeconds) * time.Second)
	}
	if p.LongPollSeconds != nil && r.cfg.Poll.LongPoll {
		r.poller.SetLongPoll(time.Duration(iv.LongPollSeconds) * time.Second)
	}
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
