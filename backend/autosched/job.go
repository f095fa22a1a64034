package autosched

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// Defaults of a Job.
const (
	// DefaultEvery is how often a team's stations are filled again without any change.
	DefaultEvery = time.Hour
	// DefaultCheck is how often a Job looks for due runs and changes in the catalog and the
	// settings: a change is acted on within this time, on whichever replica sees it first.
	DefaultCheck = time.Minute
	// DefaultLease bounds how long a replica that dies mid-run keeps the team's run.
	DefaultLease = 10 * time.Minute
)

// ErrRunning refuses a manual run while another run of the team is under way (on any replica).
var ErrRunning = errors.New("an auto-scheduler run of this team is under way")

// Job re-runs the auto-scheduler for every team that owns stations with shares: every Every,
// and as soon as the catalog or the settings change (store.AutoschedFingerprint). Every replica
// runs a Job; a run is claimed in the database first, so a team has at most one run at a time
// and each change is run once.
type Job struct {
	Runner *Runner
	Log    *zap.Logger
	// Every (DefaultEvery), Check (DefaultCheck) and Lease (DefaultLease) time the job.
	Every, Check, Lease time.Duration
	// Metrics, when set, count the runs this replica makes.
	Metrics *Metrics
	// OnRun, when set, is told about each run this replica finished (tests).
	OnRun func(teamID string, rep *Report, err error)
}

// Run checks every Check until ctx ends. Without a Booker (a backend without the observations
// service) it only waits: there is nothing to book through.
func (j *Job) Run(ctx context.Context) error {
	if j.Runner.Booker == nil {
		j.Log.Info("auto-scheduler idle: no observations service to book through")
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(orDefault(j.Check, DefaultCheck))
	defer t.Stop()
	for {
		if _, err := j.Tick(ctx); err != nil && ctx.Err() == nil {
			j.Log.Error("auto-scheduler check failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs every team whose run is due and that no replica is running, and returns the teams
// it ran. A failed run is logged and recorded; the others still run.
func (j *Job) Tick(ctx context.Context) ([]string, error) {
	st := j.Runner.Store
	fp, err := st.AutoschedFingerprint(ctx)
	if err != nil {
		return nil, err
	}
	teams, err := st.AutoschedOwnerTeams(ctx)
	if err != nil {
		return nil, err
	}
	var ran []string
	for _, team := range teams {
		holder, now := store.NewID(), j.Runner.now()
		ok, err := st.ClaimAutoschedRun(ctx, store.AutoschedClaim{TeamID: team, Holder: holder, Fingerprint: fp,
			DueBefore: now.Add(-orDefault(j.Every, DefaultEvery)), Now: now, Until: now.Add(orDefault(j.Lease, DefaultLease))})
		if err != nil {
			return ran, err
		}
		if !ok {
			continue
		}
		_, _ = j.runClaimed(ctx, team, holder, fp) // logged and recorded there
		ran = append(ran, team)
	}
	return ran, nil
}

// RunNow runs teamID at once (a manual "run now"), or returns ErrRunning while another run of it
// is under way.
func (j *Job) RunNow(ctx context.Context, teamID string) (*Report, error) {
	st := j.Runner.Store
	fp, err := st.AutoschedFingerprint(ctx)
	if err != nil {
		return nil, err
	}
	holder, now := store.NewID(), j.Runner.now()
	ok, err := st.ClaimAutoschedRun(ctx, store.AutoschedClaim{TeamID: teamID, Holder: holder, Fingerprint: fp,
		Force: true, Now: now, Until: now.Add(orDefault(j.Lease, DefaultLease))})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrRunning
	}
	return j.runClaimed(ctx, teamID, holder, fp)
}

func (j *Job) runClaimed(ctx context.Context, teamID, holder, fp string) (*Report, error) {
	start := time.Now()
	rep, err := j.Runner.Run(ctx, teamID)
	j.Metrics.observe(rep, err, time.Since(start).Seconds())
	out := store.AutoschedOutcome{Fingerprint: fp, Status: "ok", At: j.Runner.now()}
	if err != nil {
		out.Status, out.Error = "failed", err.Error()
		j.Log.Error("auto-scheduler run failed", zap.String("team_id", teamID), zap.Error(err))
	} else {
		out.Booked = len(rep.Chosen)
		j.Log.Info("auto-scheduler run", zap.String("team_id", teamID), zap.Int("booked", len(rep.Chosen)),
			zap.Int("skipped", len(rep.Skipped)), zap.Int("stations", rep.Stats.Stations),
			zap.Duration("plan", rep.Stats.Plan), zap.Duration("choose", rep.Stats.Choose))
	}
	// Record the outcome even when ctx ended, so the lease is freed for the next replica.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ferr := j.Runner.Store.FinishAutoschedRun(fctx, teamID, holder, out); ferr != nil {
		j.Log.Error("record auto-scheduler run", zap.String("team_id", teamID), zap.Error(ferr))
		if err == nil {
			err = ferr
		}
	}
	if j.OnRun != nil {
		j.OnRun(teamID, rep, err)
	}
	if err != nil {
		return nil, fmt.Errorf("auto-schedule team %s: %w", teamID, err)
	}
	return rep, nil
}
