package runner

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/statusapi"
)

// Housekeeping cadences.
const (
	snapshotEvery = 30 * time.Second
	pruneEvery    = 24 * time.Hour
)

// housekeeping writes the status snapshot for `talos-satellite status` and forgets old command
// ids, until ctx is done.
func (r *Runner) housekeeping(ctx context.Context) error {
	lastPrune := time.Time{}
	for {
		if now := r.clk.Now(); now.Sub(lastPrune) >= pruneEvery {
			r.prune(now)
			lastPrune = now
		}
		r.saveSnapshot()
		t := r.clk.NewTimer(snapshotEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

func (r *Runner) prune(now time.Time) {
	n, err := r.commands.Prune(now.Add(-r.cfg.Executor.Retain))
	if err != nil {
		r.log.Warn("cannot prune old command records", zap.Error(err))
		return
	}
	if n > 0 {
		r.log.Info("pruned old command records", zap.Int("removed", n))
	}
}

// Snapshot is the whole local status (GET /api/status, status.json).
func (r *Runner) Snapshot() statusapi.Status {
	recorded, _ := r.commands.Count()
	s := statusapi.Status{
		SatelliteID: r.identity.SatelliteID, TeamID: r.identity.TeamID, Name: r.identity.Name,
		Version: api.Version, Status: r.Status(), StartedAt: r.started, UpdatedAt: r.clk.Now().UTC(),
		Backend: r.health.Snapshot(), Poller: r.poller.Stats(), Heartbeat: r.heartbeat.Stats(),
		Outbox: statusapi.OutboxStatus{Depth: r.outbox.Depth(), Bytes: r.outbox.Bytes(), Dropped: r.outbox.Dropped(),
			Rejected: r.outbox.Rejected(), Sent: r.outbox.Sent(), Quarantined: r.outbox.Quarantined()},
		Commands: statusapi.CommandsStatus{Queued: r.executor.Queued(), Running: r.executor.Running(),
			Succeeded: r.executor.Finished(api.CommandSucceeded), Failed: r.executor.Finished(api.CommandFailed),
			Recorded: recorded},
	}
	parts := reports{r}
	s.Tracking, s.Processes, s.CgroupLimits = parts.Tracking(), parts.Processes(), parts.CgroupLimits()
	return s
}
