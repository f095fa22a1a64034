// Package rollouts rolls a talos-satellite release out over a set of stations in stages
// (decision 0104): 1 %, 10 %, 100 % by default, each stage at least one station, advancing only
// while every station updated so far reports the release's version and is online for the soak
// time, and stopping at the first failure or rollback. Stations that update by hand
// (update.mode: manual) are skipped. Tick is safe on several replicas: each rollout is advanced
// by the one replica that claims it. No HTTP here.
package rollouts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/releases"
	"github.com/talos-gs/talos/backend/store"
)

// DefaultStages are the cumulative percentages of a rollout.
var DefaultStages = []int{1, 10, 100}

// Bounds of a rollout.
const (
	DefaultSoakSeconds = 600
	MaxSoakSeconds     = 7 * 24 * 3600
	MaxStations        = 10_000
	claimFor           = time.Minute
)

// Service creates, advances and stops rollouts.
type Service struct {
	Store    *store.Store
	Commands *commands.Service
	Log      *zap.Logger
}

// InvalidError is a request naming its bad field.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// CreateInput is a rollout to start. The stations are SatelliteIDs, or every station of TeamID
// (the fleet's tag queries plug in here when they exist).
type CreateInput struct {
	ReleaseID    string
	SatelliteIDs []string
	TeamID       string
	// Stages are cumulative percentages, increasing, ending at 100; nil: DefaultStages.
	Stages []int
	// SoakSeconds: nil is DefaultSoakSeconds.
	SoakSeconds *int
	CreatedBy   *string
}

// Create checks in, assigns each station its stage and stores the rollout; Tick starts it.
func (s *Service) Create(ctx context.Context, in CreateInput) (*store.Rollout, error) {
	if !store.ValidID(in.ReleaseID) {
		return nil, invalid("release_id", "must be a release id")
	}
	if _, err := s.Store.ReleaseByID(ctx, in.ReleaseID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid("release_id", "no such release")
		}
		return nil, err
	}
	stages, soak, err := checkPlan(in.Stages, in.SoakSeconds)
	if err != nil {
		return nil, err
	}
	ids, err := s.stations(ctx, in)
	if err != nil {
		return nil, err
	}
	now := s.Store.Now()
	r := &store.Rollout{ID: store.NewID(), ReleaseID: in.ReleaseID, Stages: stages, SoakSeconds: soak,
		State: store.RolloutRunning, CreatedBy: in.CreatedBy, CreatedAt: now, UpdatedAt: now}
	sts := make([]store.RolloutStation, len(ids))
	for i, id := range ids {
		sts[i] = store.RolloutStation{RolloutID: r.ID, SatelliteID: id, Stage: StageOf(i, len(ids), stages),
			State: store.RolloutStationWaiting}
	}
	if err := s.Store.CreateRollout(ctx, r, sts); err != nil {
		return nil, err
	}
	return r, nil
}

func checkPlan(stages []int, soakIn *int) ([]int, int, error) {
	if stages == nil {
		stages = DefaultStages
	}
	if len(stages) == 0 || len(stages) > 10 || stages[len(stages)-1] != 100 {
		return nil, 0, invalid("stages", "must be 1 to 10 increasing percentages ending at 100")
	}
	for i, p := range stages {
		if p < 1 || p > 100 || (i > 0 && p <= stages[i-1]) {
			return nil, 0, invalid("stages", "must be 1 to 10 increasing percentages ending at 100")
		}
	}
	soak := DefaultSoakSeconds
	if soakIn != nil {
		soak = *soakIn
	}
	if soak < 0 || soak > MaxSoakSeconds {
		return nil, 0, invalid("soak_seconds", "must be 0 to %d", MaxSoakSeconds)
	}
	return stages, soak, nil
}

func (s *Service) stations(ctx context.Context, in CreateInput) ([]string, error) {
	if (len(in.SatelliteIDs) == 0) == (in.TeamID == "") {
		return nil, invalid("satellite_ids", "give satellite_ids or team_id, not both")
	}
	ids := in.SatelliteIDs
	if in.TeamID != "" {
		sats, err := s.Store.Satellites(ctx, &in.TeamID)
		if err != nil {
			return nil, err
		}
		for _, sat := range sats {
			ids = append(ids, sat.ID)
		}
		if len(ids) == 0 {
			return nil, invalid("team_id", "the team has no stations")
		}
	}
	if len(ids) > MaxStations {
		return nil, invalid("satellite_ids", "at most %d stations", MaxStations)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !store.ValidID(id) || seen[id] {
			return nil, invalid("satellite_ids", "%q is not a station id, or is given twice", id)
		}
		seen[id] = true
		if _, err := s.Store.SatelliteByID(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, invalid("satellite_ids", "no station %s", id)
			}
			return nil, err
		}
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted) // a stable order: the same stations go first on every replica
	return sorted, nil
}

// StageOf is the stage of the i-th of n stations: stage k holds the stations up to
// ceil(stages[k] % of n), at least one more than the stage before while stations are left.
func StageOf(i, n int, stages []int) int {
	upto := 0
	for k, p := range stages {
		c := int(math.Ceil(float64(n) * float64(p) / 100))
		c = max(c, upto+1)
		upto = min(c, n)
		if i < upto {
			return k
		}
	}
	return len(stages) - 1
}

// Stop stops a running rollout; stations already updated keep their version.
func (s *Service) Stop(ctx context.Context, id, reason string) error {
	if reason == "" {
		reason = "stopped by a user"
	}
	return s.Store.StopRollout(ctx, id, reason)
}

// Run ticks every period until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("rollouts", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick advances every running rollout this replica can claim.
func (s *Service) Tick(ctx context.Context) error {
	ids, err := s.Store.RunningRollouts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		ok, err := s.Store.ClaimRollout(ctx, id, claimFor)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.advance(ctx, id), s.Store.ReleaseRollout(ctx, id))
	}
	return errors.Join(errs...)
}

// advance moves one claimed rollout as far as it can go now.
func (s *Service) advance(ctx context.Context, id string) error {
	r, sts, err := s.Store.RolloutByID(ctx, id)
	if err != nil || r.State != store.RolloutRunning {
		return err
	}
	rel, err := s.Store.ReleaseByID(ctx, r.ReleaseID)
	if err != nil {
		return err
	}
	for {
		done, err := s.stage(ctx, r, rel, sts)
		if err != nil || !done || r.State != store.RolloutRunning {
			return err
		}
		if r.Stage == len(r.Stages)-1 {
			r.State, r.Reason = store.RolloutCompleted, ""
			return s.Store.SaveRollout(ctx, r)
		}
		r.Stage++
		if err := s.Store.SaveRollout(ctx, r); err != nil {
			return err
		}
	}
}

// stage works on the stations of stages up to r.Stage; it reports whether the current stage is
// done (every station updated and soaked, or skipped) and fails the rollout at the first
// failure or rollback.
func (s *Service) stage(ctx context.Context, r *store.Rollout, rel *store.Release, sts []store.RolloutStation) (bool, error) {
	done := true
	for i := range sts {
		st := &sts[i]
		if st.Stage > r.Stage {
			continue
		}
		if err := s.step(ctx, r, rel, st); err != nil {
			return false, err
		}
		switch st.State {
		case store.RolloutStationFailed, store.RolloutStationRolledBack:
			r.State = store.RolloutFailed
			r.Reason = fmt.Sprintf("station %s %s: %s", st.SatelliteID, st.State, st.Detail)
			return false, s.Store.SaveRollout(ctx, r)
		case store.RolloutStationSkipped:
		case store.RolloutStationUpdated:
			if st.UpdatedAt == nil || s.Store.Now().Before(st.UpdatedAt.Add(time.Duration(r.SoakSeconds)*time.Second)) {
				done = false
			}
		default:
			done = false
		}
	}
	return done, nil
}

// step moves one station: queue its command, then follow it to updated, skipped, failed or
// rolled back; an updated station that stops being healthy fails the rollout.
func (s *Service) step(ctx context.Context, r *store.Rollout, rel *store.Release, st *store.RolloutStation) error {
	switch st.State {
	case store.RolloutStationWaiting:
		return s.queue(ctx, r, rel, st)
	case store.RolloutStationQueued:
		return s.follow(ctx, rel, st)
	case store.RolloutStationUpdated:
		if healthy, why, err := s.healthy(ctx, rel, st.SatelliteID); err != nil || healthy {
			return err
		} else if rb, err := s.rolledBack(ctx, rel, st.SatelliteID); err != nil {
			return err
		} else if rb != "" {
			st.State, st.Detail = store.RolloutStationRolledBack, rb
		} else {
			st.State, st.Detail = store.RolloutStationFailed, "unhealthy after the update: "+why
		}
		return s.Store.SaveRolloutStation(ctx, st)
	}
	return nil
}

func (s *Service) queue(ctx context.Context, r *store.Rollout, rel *store.Release, st *store.RolloutStation) error {
	payload, err := json.Marshal(releases.UpdatePayload(rel))
	if err != nil {
		return err
	}
	cmd, err := s.Commands.Create(ctx, commands.CreateInput{SatelliteID: st.SatelliteID, Type: api.CommandRunnerUpdate,
		Payload: payload, CorrelationID: "rollout:" + r.ID, CreatedBy: "rollout"})
	if err != nil {
		st.State, st.Detail = store.RolloutStationFailed, "cannot queue runner.update: "+err.Error()
		return s.Store.SaveRolloutStation(ctx, st)
	}
	st.State, st.CommandID = store.RolloutStationQueued, &cmd.ID
	return s.Store.SaveRolloutStation(ctx, st)
}

func (s *Service) follow(ctx context.Context, rel *store.Release, st *store.RolloutStation) error {
	if st.CommandID == nil {
		return nil
	}
	cmd, err := s.Store.CommandOf(ctx, st.SatelliteID, *st.CommandID)
	if err != nil {
		return err
	}
	switch cmd.Status {
	case api.CommandFailed, api.CommandCancelled, api.CommandExpired:
		st.State, st.Detail = store.RolloutStationFailed, fmt.Sprintf("runner.update %s: %s", cmd.Status, cmd.Error)
		if strings.Contains(cmd.Error, api.UpdateManualReason) {
			st.State, st.Detail = store.RolloutStationSkipped, "updates by hand (update.mode: manual)"
		}
		return s.Store.SaveRolloutStation(ctx, st)
	case api.CommandSucceeded:
	default:
		return nil
	}
	if rb, err := s.rolledBack(ctx, rel, st.SatelliteID); err != nil || rb != "" {
		if rb != "" {
			st.State, st.Detail = store.RolloutStationRolledBack, rb
			return s.Store.SaveRolloutStation(ctx, st)
		}
		return err
	}
	if healthy, _, err := s.healthy(ctx, rel, st.SatelliteID); err != nil || !healthy {
		return err
	}
	st.State, st.Detail = store.RolloutStationUpdated, ""
	return s.Store.SaveRolloutStation(ctx, st)
}

// healthy: the station reports the release's version and is online.
func (s *Service) healthy(ctx context.Context, rel *store.Release, satelliteID string) (bool, string, error) {
	sat, err := s.Store.SatelliteByID(ctx, satelliteID)
	if err != nil {
		return false, "", err
	}
	if sat.Version != rel.Version || sat.Status != string(api.StatusOnline) {
		return false, fmt.Sprintf("reports version %s, status %s", sat.Version, sat.Status), nil
	}
	return true, "", nil
}

// rolledBack returns the reason of a runner.rolled_back event from the release's version, or "".
func (s *Service) rolledBack(ctx context.Context, rel *store.Release, satelliteID string) (string, error) {
	evs, err := s.Store.Events(ctx, store.EventQuery{SatelliteID: satelliteID, Type: api.EventRunnerRolledBack, Limit: 20})
	if err != nil {
		return "", err
	}
	for _, ev := range evs {
		var d api.RunnerUpdateEventData
		if ev.Data != nil && json.Unmarshal([]byte(*ev.Data), &d) == nil && d.From == rel.Version {
			return "rolled back: " + d.Reason, nil
		}
	}
	return "", nil
}
