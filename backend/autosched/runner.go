package autosched

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
)

// slewMargin widens the window asked of Busy on both sides, so that bookings just outside the
// horizon still keep the slew gap to the first and last pass in it.
const slewMargin = 15 * time.Minute

// Problems of a target that cannot be planned (TargetProblem.Problem).
const (
	// ProblemNotInCatalog: the team cannot see a spacecraft with the NORAD id, or it has no
	// element set.
	ProblemNotInCatalog = "not_in_catalog"
	// ProblemTransmitterMissing: the transmitter is not (or no longer) one of the spacecraft's.
	ProblemTransmitterMissing = "transmitter_missing"
)

// TargetProblem is a target left out of a run, and why.
type TargetProblem struct {
	TeamID  string
	NORAD   int
	Problem string
}

// Report is what a run (or a preview) did.
type Report struct {
	*Result
	// TeamID is the team whose stations were filled.
	TeamID string
	// Targets lists the targets of the sharing teams that could not be planned.
	Targets []TargetProblem
	// DryRun is true for a preview: nothing was booked.
	DryRun bool
	// order is each station's position in the run.
	order map[string]int
}

// Runner builds a team's Input from the store and the catalog, and books what Schedule chose.
// A run fills the stations the team owns, for every team with a share on them.
type Runner struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	Booker  Booker
	Log     *zap.Logger
	// Now is the clock (default: the store's).
	Now func() time.Time
	// Horizon (DefaultHorizon), MinLead (DefaultMinLead) and MinDuration (DefaultMinDuration)
	// shape a run; Workers bounds its goroutines (0: GOMAXPROCS).
	Horizon, MinLead, MinDuration time.Duration
	Workers                       int
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return r.Store.Now()
}

// Preview answers what a run for teamID would book now, and why the other passes would not be.
func (r *Runner) Preview(ctx context.Context, teamID string) (*Report, error) {
	rep, err := r.plan(ctx, teamID)
	if err != nil {
		return nil, err
	}
	rep.DryRun = true
	return rep, nil
}

// Run plans teamID's stations and books every chosen pass through the Booker, in station and
// AOS order. A refused pass moves to Skipped with ReasonRefused and the refusal; its time is
// left for the next run.
func (r *Runner) Run(ctx context.Context, teamID string) (*Report, error) {
	rep, err := r.plan(ctx, teamID)
	if err != nil {
		return nil, err
	}
	booked := rep.Chosen[:0:0]
	for _, c := range rep.Chosen {
		if err := r.Booker.Book(ctx, c); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("auto-schedule team %s: %w", teamID, ctx.Err())
			}
			rep.Skipped = append(rep.Skipped, Skip{Choice: c, Reason: ReasonRefused, Detail: err.Error()})
			continue
		}
		booked = append(booked, c)
	}
	rep.Chosen = booked
	slices.SortStableFunc(rep.Skipped, func(a, b Skip) int {
		if a.StationID != b.StationID {
			return rep.order[a.StationID] - rep.order[b.StationID]
		}
		return cmpChoice(&a.Choice, &b.Choice)
	})
	return rep, nil
}

// ErrNoBooker is returned when a Runner has no Booker to ask what is booked.
var ErrNoBooker = errors.New("auto-scheduler: no observations service to book through")

func (r *Runner) plan(ctx context.Context, teamID string) (*Report, error) {
	if r.Booker == nil {
		return nil, ErrNoBooker
	}
	in, problems, err := r.Input(ctx, teamID)
	if err != nil {
		return nil, err
	}
	res, err := Schedule(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("auto-schedule team %s: %w", teamID, err)
	}
	rep := &Report{Result: res, TeamID: teamID, Targets: problems, order: map[string]int{}}
	for i, st := range in.Stations {
		rep.order[st.ID] = i
	}
	return rep, nil
}

// Input loads what a run for teamID decides from: the team's stations that have shares, the
// lists of the teams sharing them (resolved in each team's own catalog), and what is booked.
func (r *Runner) Input(ctx context.Context, teamID string) (Input, []TargetProblem, error) {
	from := r.now().Add(orDefault(r.MinLead, DefaultMinLead)).Truncate(time.Second)
	in := Input{From: from, To: from.Add(orDefault(r.Horizon, DefaultHorizon)), MinDuration: r.MinDuration,
		Workers: r.Workers, Busy: map[string][]Booking{}}
	sats, err := r.Store.Satellites(ctx, &teamID)
	if err != nil {
		return in, nil, err
	}
	ids := make([]string, len(sats))
	for i := range sats {
		ids[i] = sats[i].ID
	}
	settings, err := r.Store.AutoschedStations(ctx, ids)
	if err != nil {
		return in, nil, err
	}
	teams := map[string]bool{}
	now := r.now()
	for _, sat := range sats {
		st := settings[sat.ID]
		if st == nil || len(st.Shares) == 0 || sat.Paused(now) {
			continue // a paused station takes no new observations (docs/operations.md)
		}
		// The station's own sky (its minimum elevation and horizon mask, set on the satellite)
		// bounds every pass; the auto-scheduler's minimum may only raise the bar.
		mask, err := planner.StationMask(sat.HorizonMask)
		if err != nil {
			return in, nil, fmt.Errorf("horizon mask of station %s: %w", sat.ID, err)
		}
		station := Station{ID: sat.ID, TeamID: teamID, LatDeg: sat.Lat, LonDeg: sat.Lon, AltM: sat.AltM,
			MinElevationDeg: max(st.MinElevationDeg, sat.MinElevationDeg), Mask: mask,
			Slew: SlewRate{st.SlewAzDegS, st.SlewElDegS}}
		for _, sh := range st.Shares {
			station.Shares = append(station.Shares, Share{TeamID: sh.TeamID, Weight: sh.Weight})
			teams[sh.TeamID] = true
		}
		busy, err := r.Booker.Busy(ctx, sat.ID, in.From.Add(-slewMargin), in.To.Add(slewMargin))
		if err != nil {
			return in, nil, fmt.Errorf("bookings of station %s: %w", sat.ID, err)
		}
		in.Busy[sat.ID] = busy
		in.Stations = append(in.Stations, station)
	}
	var problems []TargetProblem
	for _, id := range sortedKeys(teams) {
		team, p, err := r.team(ctx, id)
		if err != nil {
			return in, nil, err
		}
		in.Teams = append(in.Teams, team)
		problems = append(problems, p...)
	}
	return in, problems, nil
}

// team resolves a team's targets in its catalog: the current element set of each, and a check
// that its transmitter is the spacecraft's.
func (r *Runner) team(ctx context.Context, teamID string) (Team, []TargetProblem, error) {
	team := Team{ID: teamID}
	targets, err := r.Store.AutoschedTargets(ctx, teamID)
	if err != nil || len(targets) == 0 {
		return team, nil, err
	}
	norads, txIDs := make([]int, len(targets)), make([]string, len(targets))
	for i, t := range targets {
		norads[i], txIDs[i] = t.NORADID, t.TransmitterID
	}
	tracked, err := r.Catalog.Visible(ctx, teamID, catalog.Filter{NORADIDs: norads})
	if err != nil {
		return team, nil, err
	}
	byNORAD := map[int]*catalog.Tracked{}
	for i := range tracked {
		byNORAD[tracked[i].NORADID] = &tracked[i]
	}
	owner, err := r.Store.TransmitterSpacecraft(ctx, txIDs)
	if err != nil {
		return team, nil, err
	}
	var problems []TargetProblem
	for _, t := range targets {
		tr := byNORAD[t.NORADID]
		switch {
		case tr == nil:
			problems = append(problems, TargetProblem{teamID, t.NORADID, ProblemNotInCatalog})
		case owner[t.TransmitterID] != tr.SpacecraftID:
			problems = append(problems, TargetProblem{teamID, t.NORADID, ProblemTransmitterMissing})
		default:
			team.Targets = append(team.Targets, Tracked{
				Target:       Target{NORAD: t.NORADID, Priority: t.Priority, TransmitterID: t.TransmitterID, Decoder: t.Decoder},
				SpacecraftID: tr.SpacecraftID, Name: tr.Name, ElementSetID: tr.ElementSetID, Elements: tr.Elements})
		}
	}
	return team, problems, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// cmpChoice orders choices of one station as a Result does: AOS, then team id, then NORAD id.
func cmpChoice(a, b *Choice) int {
	if c := a.Pass.AOS.Compare(b.Pass.AOS); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TeamID, b.TeamID); c != 0 {
		return c
	}
	return cmp.Compare(a.NORAD, b.NORAD)
}
