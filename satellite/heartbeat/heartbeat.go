// Package heartbeat is the loop that reports the station's health to the backend: system
// metrics, version, uptime, outbox depth and drops, and what the other parts report (decoder
// processes, tracking). It sends one at start, then every interval (30 s by default); the
// backend may change the interval in its answer, and config.update may too.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Interval limits.
const (
	DefaultInterval = 30 * time.Second
	MinInterval     = 5 * time.Second
	MaxInterval     = time.Hour
)

// Sender delivers a heartbeat (client.Satellite).
type Sender interface {
	Heartbeat(ctx context.Context, hb api.Heartbeat) (api.HeartbeatResponse, error)
}

// Sampler gives system metrics (*System).
type Sampler interface {
	Sample(ctx context.Context) (api.SystemMetrics, error)
}

// ProcessReporter and TrackingReporter are the parts' reports (see package runner).
type (
	ProcessReporter interface {
		Processes() []api.ProcessInfo
		CgroupLimits() string
	}
	TrackingReporter interface {
		Tracking() *api.TrackingState
	}
)

// Outbox reports the event queue's figures.
type Outbox interface {
	Depth() int
	Dropped() int64
}

// Options build a Loop.
type Options struct {
	Sender    Sender
	Sampler   Sampler
	Outbox    Outbox
	Status    func() api.SatelliteStatus
	Processes []ProcessReporter
	Tracking  []TrackingReporter
	Logger    *zap.Logger
	Clock     clock.Clock
	Backoff   *backoff.Backoff
	Interval  time.Duration
	// Tags are the station's tags (config station.tags), sent with every heartbeat: an empty
	// set is sent as {} so the backend drops tags removed from the configuration.
	Tags map[string]string
}

// Loop is the heartbeat loop.
type Loop struct {
	opts     Options
	log      *zap.Logger
	clk      clock.Clock
	started  time.Time
	interval atomic.Int64
	trigger  chan struct{}

	mu    sync.Mutex
	stats Stats
}

// Stats describe the loop for the status endpoint.
type Stats struct {
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Failures    int       `json:"consecutive_failures"`
	Interval    float64   `json:"interval_seconds"`
	// LastRefusal is why the backend refused the latest heartbeat (cleared by a success).
	LastRefusal string `json:"last_refusal,omitempty"`
}

// New builds the loop.
func New(opts Options) *Loop {
	l := &Loop{opts: opts, log: opts.Logger, clk: opts.Clock, trigger: make(chan struct{}, 1)}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if l.clk == nil {
		l.clk = clock.Real{}
	}
	if l.opts.Backoff == nil {
		l.opts.Backoff = backoff.New(nil)
	}
	if l.opts.Status == nil {
		l.opts.Status = func() api.SatelliteStatus { return api.StatusOnline }
	}
	l.started = l.clk.Now()
	l.interval.Store(int64(DefaultInterval))
	l.SetInterval(opts.Interval)
	return l
}

// SetInterval changes the cadence, clamped to 5 s – 1 h; zero or negative is ignored.
func (l *Loop) SetInterval(d time.Duration) {
	if d > 0 {
		l.interval.Store(int64(min(max(d, MinInterval), MaxInterval)))
	}
}

// Interval returns the cadence.
func (l *Loop) Interval() time.Duration { return time.Duration(l.interval.Load()) }

// Stats returns a snapshot.
func (l *Loop) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Interval = l.Interval().Seconds()
	return s
}

// Run sends heartbeats until ctx is done (nil) or the key is revoked (an error wrapping
// client.ErrUnauthorized).
func (l *Loop) Run(ctx context.Context) error {
	for {
		wait, err := l.beat(ctx)
		if err != nil {
			return err
		}
		if l.wait(ctx, wait) != nil {
			return nil
		}
	}
}

// Trigger sends a heartbeat now instead of at the next interval (the status changed).
func (l *Loop) Trigger() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

func (l *Loop) wait(ctx context.Context, d time.Duration) error {
	t := l.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
	case <-l.trigger:
	}
	return nil
}

// Final sends the last heartbeat of a clean stop, status stopping, once: the backend then
// marks the station offline at once instead of after 2.5 silent intervals. Call it after Run
// has returned, with a context bounded by the shutdown's timeout.
func (l *Loop) Final(ctx context.Context) error {
	hb := l.Build(ctx)
	hb.Status = api.StatusStopping
	if _, err := l.opts.Sender.Heartbeat(ctx, hb); err != nil {
		return fmt.Errorf("final heartbeat: %w", err)
	}
	return nil
}

func (l *Loop) beat(ctx context.Context) (time.Duration, error) {
	hb := l.Build(ctx)
	l.note(func(s *Stats) { s.LastAttempt = l.clk.Now() })
	resp, err := l.opts.Sender.Heartbeat(ctx, hb)
	switch {
	case ctx.Err() != nil:
		return 0, nil
	case errors.Is(err, client.ErrUnauthorized):
		return 0, fmt.Errorf("heartbeat: %w", err)
	case err != nil && !client.Retryable(err):
		return l.refused(err), nil
	case err != nil:
		l.note(func(s *Stats) { s.Failures++ })
		// Retry sooner than the interval while the backend recovers, spread by jitter.
		wait := min(l.opts.Backoff.Next(), l.Interval())
		l.log.Warn("heartbeat failed", zap.Duration("retry_in", wait), zap.Error(err))
		return wait, nil
	}
	l.opts.Backoff.Reset()
	l.note(func(s *Stats) { s.Failures = 0; s.LastSuccess = l.clk.Now(); s.LastRefusal = "" })
	if resp.NextHeartbeatSeconds > 0 {
		l.SetInterval(time.Duration(resp.NextHeartbeatSeconds) * time.Second)
	}
	return l.Interval(), nil
}

// refused handles a heartbeat the backend will never accept as it is (400 and the other 4xx
// but 401, 408 and 429): sending the same report again cannot help, so the loop logs the
// backend's reason and waits the whole interval; the next heartbeat is a new report.
func (l *Loop) refused(err error) time.Duration {
	fields := []zap.Field{zap.Duration("next_in", l.Interval()), zap.Error(err)}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fields = append(fields, zap.Int("status", apiErr.Status), zap.String("code", apiErr.Code),
			zap.String("field", apiErr.Field), zap.String("reason", apiErr.Message))
	}
	l.note(func(s *Stats) { s.Failures++; s.LastRefusal = err.Error() })
	l.log.Error("backend refused the heartbeat; not resending it, the next one is a new report", fields...)
	return l.Interval()
}

func (l *Loop) note(change func(*Stats)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	change(&l.stats)
}

// Build assembles a heartbeat from the current figures.
func (l *Loop) Build(ctx context.Context) api.Heartbeat {
	hb := api.Heartbeat{Status: l.opts.Status(), Version: api.Version,
		UptimeSeconds: int64(l.clk.Now().Sub(l.started) / time.Second), Tags: l.opts.Tags}
	if hb.Tags == nil {
		hb.Tags = map[string]string{}
	}
	if l.opts.Sampler != nil {
		sys, err := l.opts.Sampler.Sample(ctx)
		if err != nil {
			l.log.Debug("some system metrics are unavailable", zap.Error(err))
		}
		hb.System = sys
	}
	if l.opts.Outbox != nil {
		hb.OutboxDepth, hb.EventsDropped = l.opts.Outbox.Depth(), l.opts.Outbox.Dropped()
	}
	for _, p := range l.opts.Processes {
		l.guard("processes", func() {
			hb.Processes = append(hb.Processes, p.Processes()...)
			if c := p.CgroupLimits(); c != "" {
				hb.CgroupLimits = c
			}
		})
	}
	fitLimits(&hb)
	for _, t := range l.opts.Tracking {
		l.guard("tracking", func() {
			if ts := t.Tracking(); ts != nil {
				hb.Tracking = ts
			}
		})
	}
	return hb
}

// guard runs a part's report; a panicking part loses its figures in this heartbeat, not the
// runner.
func (l *Loop) guard(what string, report func()) {
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("a part panicked while reporting; heartbeat sent without it", zap.String("report", what), zap.Any("panic", r))
		}
	}()
	report()
}

// fitLimits keeps a heartbeat within what the backend accepts, whatever the parts report: at
// most api.MaxHeartbeatProcesses processes (each part lists its most important first) and a
// one-line cgroup_limits of at most api.MaxCgroupLimitsLen characters.
func fitLimits(hb *api.Heartbeat) {
	if len(hb.Processes) > api.MaxHeartbeatProcesses {
		hb.Processes = hb.Processes[:api.MaxHeartbeatProcesses]
	}
	hb.CgroupLimits = api.FitLine(hb.CgroupLimits, api.MaxCgroupLimitsLen)
}
