// Package sweeper runs the satellite protocol's background housekeeping: commands past their
// expiry become expired, delivered commands whose lease lapsed go back to pending (and their
// satellites' held long-polls are woken to take them again), satellites silent for 2.5
// heartbeat intervals become offline (with an event), heartbeats older than the downsampling age
// are thinned to the last of each satellite in each bucket, and heartbeats and events older than
// the retention age are deleted.
//
// Every step is a conditional UPDATE or a DELETE by age, so any number of replicas may sweep the
// same database at once: a transition is applied, and its event recorded, by exactly one.
package sweeper

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
)

// Defaults of a Sweeper.
const (
	DefaultEvery      = 10 * time.Second
	DefaultPruneEvery = time.Hour
	DefaultRetention  = 30 * 24 * time.Hour
	// DefaultDownsampleAfter and DefaultDownsampleBucket: heartbeats older than a day keep one per
	// satellite per 10 minutes (docs/decisions/0056-heartbeat-downsampling.md).
	DefaultDownsampleAfter  = 24 * time.Hour
	DefaultDownsampleBucket = 10 * time.Minute
	// DefaultDownsampleSlice is how much received time one downsampling statement covers.
	DefaultDownsampleSlice = time.Hour
)

// Sweeper is the housekeeping loop.
type Sweeper struct {
	Store *store.Store
	Log   *zap.Logger
	// Every is the interval of the command and offline sweeps (default DefaultEvery).
	Every time.Duration
	// PruneEvery is the interval of the retention prune (default DefaultPruneEvery).
	PruneEvery time.Duration
	// Retention is the age past which heartbeats and events are deleted (default
	// DefaultRetention).
	Retention time.Duration
	// Notifier, when set, wakes the held long-polls of satellites whose commands were released
	// from a lapsed lease, so they get them again at once instead of at their next poll.
	Notifier notify.Notifier
	// Commands applies the queue's rules to expiry (default: a commands.Service over Store and
	// Notifier).
	Commands *commands.Service
	// DownsampleAfter is the age past which heartbeats are thinned (default
	// DefaultDownsampleAfter); at or above Retention, nothing is thinned.
	DownsampleAfter time.Duration
	// DownsampleBucket is the width of the epoch-aligned buckets of which the last heartbeat of
	// each satellite is kept, a whole number of seconds (default DefaultDownsampleBucket).
	DownsampleBucket time.Duration
	// DownsampleSlice bounds one downsampling statement to this much received time (default
	// DefaultDownsampleSlice, at least one bucket), so a first run over a long backlog is many
	// short statements, one a sweep, instead of one long transaction.
	DownsampleSlice time.Duration
	// Artifacts, when set, deletes artifacts past their retention (artifacts.Service.Sweep)
	// at every prune; Uploads deletes stale staged uploads (server.Server.PruneUploads).
	Artifacts interface {
		Sweep(ctx context.Context) (int64, error)
	}
	Uploads interface {
		PruneUploads(ctx context.Context) (int, error)
	}

	lastPrune time.Time
	// downsampledTo is where the next downsampling slice starts: everything before it was
	// thinned by this sweeper. It lives in memory only; after a restart the walk starts again at
	// the retention age, over buckets already thinned (which delete nothing and are quick).
	downsampledTo time.Time
}

// Run sweeps at once and then every s.Every until ctx ends. A failed step is logged and tried
// again at the next tick.
func (s *Sweeper) Run(ctx context.Context) error {
	s.defaults()
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Sweeper) defaults() {
	if s.Every <= 0 {
		s.Every = DefaultEvery
	}
	if s.PruneEvery <= 0 {
		s.PruneEvery = DefaultPruneEvery
	}
	if s.Retention <= 0 {
		s.Retention = DefaultRetention
	}
	if s.DownsampleAfter <= 0 {
		s.DownsampleAfter = DefaultDownsampleAfter
	}
	if s.DownsampleBucket <= 0 {
		s.DownsampleBucket = DefaultDownsampleBucket
	}
	if s.DownsampleSlice <= 0 {
		s.DownsampleSlice = DefaultDownsampleSlice
	}
	if s.Commands == nil {
		s.Commands = commands.New(commands.Options{Store: s.Store, Notifier: s.Notifier, Logger: s.Log})
	}
}

// Result counts what one sweep changed.
type Result struct {
	Expired, Released int64
	// ReleasedFor are the satellites whose commands were released from a lapsed lease.
	ReleasedFor        []string
	Offline            []string
	Heartbeats, Events int64
	Pruned             bool
	// Downsampled counts the heartbeats deleted by downsampling.
	Downsampled int64
	// Artifacts counts the artifacts deleted past their retention.
	Artifacts int64
}

// Sweep runs every step once (the prune only when PruneEvery has passed since the last one,
// by the store's clock) and reports what changed.
func (s *Sweeper) Sweep(ctx context.Context) Result {
	s.defaults()
	var r Result
	var err error
	if r.Expired, err = s.Commands.Expire(ctx); err != nil {
		s.warn(ctx, "expire commands", err)
	}
	if r.Released, r.ReleasedFor, err = s.Store.ReleaseLapsedLeases(ctx); err != nil {
		s.warn(ctx, "release lapsed command leases", err)
	}
	s.wake(ctx, r.ReleasedFor)
	if r.Offline, err = s.Store.MarkOffline(ctx); err != nil {
		s.warn(ctx, "mark silent satellites offline", err)
	}
	for _, id := range r.Offline {
		s.Log.Info("satellite offline", zap.String("satellite_id", id))
	}
	if now := s.Store.Now(); s.lastPrune.IsZero() || now.Sub(s.lastPrune) >= s.PruneEvery {
		s.lastPrune, r.Pruned = now, true
		if r.Heartbeats, r.Events, err = s.Store.PruneBefore(ctx, now.Add(-s.Retention)); err != nil {
			s.warn(ctx, "prune heartbeats and events", err)
		}
		r.Artifacts = s.pruneArtifacts(ctx)
	}
	if r.Downsampled, err = s.downsample(ctx); err != nil {
		s.warn(ctx, "downsample old heartbeats", err)
	}
	if r.Expired+r.Released+r.Heartbeats+r.Events+r.Downsampled > 0 {
		s.Log.Debug("swept", zap.Int64("expired", r.Expired), zap.Int64("released", r.Released),
			zap.Int64("heartbeats_pruned", r.Heartbeats), zap.Int64("events_pruned", r.Events),
			zap.Int64("heartbeats_downsampled", r.Downsampled))
	}
	return r
}

// downsample thins the next slice of heartbeats past the downsampling age, if a whole bucket is
// waiting: from the cursor (or the retention age, whichever is later) up to the bucket holding
// the age's cutoff, at most DownsampleSlice at a time. Once caught up it runs once a bucket.
func (s *Sweeper) downsample(ctx context.Context) (int64, error) {
	now := s.Store.Now()
	cutoff := store.HeartbeatBucket(now.Add(-s.DownsampleAfter), s.DownsampleBucket)
	from := store.HeartbeatBucket(now.Add(-s.Retention), s.DownsampleBucket)
	if s.downsampledTo.After(from) {
		from = s.downsampledTo
	}
	if !from.Before(cutoff) {
		return 0, nil
	}
	to := store.HeartbeatBucket(from.Add(max(s.DownsampleSlice, s.DownsampleBucket)), s.DownsampleBucket)
	if to.After(cutoff) {
		to = cutoff
	}
	n, err := s.Store.DownsampleHeartbeats(ctx, from, to, s.DownsampleBucket)
	if err != nil {
		return 0, err
	}
	s.downsampledTo = to
	return n, nil
}

// pruneArtifacts applies artifact retention and drops stale staged uploads.
func (s *Sweeper) pruneArtifacts(ctx context.Context) int64 {
	var n int64
	if s.Artifacts != nil {
		var err error
		if n, err = s.Artifacts.Sweep(ctx); err != nil {
			s.warn(ctx, "delete artifacts past their retention", err)
		} else if n > 0 {
			s.Log.Info("artifacts past their retention deleted", zap.Int64("count", n))
		}
	}
	if s.Uploads != nil {
		if _, err := s.Uploads.PruneUploads(ctx); err != nil {
			s.warn(ctx, "prune staged uploads", err)
		}
	}
	return n
}

// wake tells the held long-polls of satellites to look again. A failure only delays delivery
// to the satellite's next poll, so it is logged.
func (s *Sweeper) wake(ctx context.Context, satellites []string) {
	if s.Notifier == nil {
		return
	}
	for _, id := range satellites {
		if err := s.Notifier.Notify(ctx, id); err != nil && ctx.Err() == nil {
			s.Log.Warn("wake long-polls after releasing lapsed leases", zap.String("satellite_id", id), zap.Error(err))
		}
	}
}

func (s *Sweeper) warn(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		s.Log.Warn(what, zap.Error(err))
	}
}
