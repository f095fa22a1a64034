package autosched

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talos-gs/talos/backend/planner"
)

// ErrInvalidInput is wrapped by every error about an Input.
var ErrInvalidInput = errors.New("invalid auto-schedule input")

// Input is everything one run decides from. The same Input gives the same Result.
type Input struct {
	// From and To bound the horizon: only passes wholly inside it are chosen.
	From, To time.Time
	// Stations are filled one by one (in parallel); Teams hold the lists their shares refer to.
	Stations []Station
	Teams    []Team
	// Busy lists what is already booked, by station id.
	Busy map[string][]Booking
	// MinDuration is the shortest pass worth booking (default DefaultMinDuration).
	MinDuration time.Duration
	// Workers bounds the goroutines planning and choosing (0: GOMAXPROCS).
	Workers int
}

// Reason says why a pass was not chosen.
type Reason string

// Reasons of a Skip.
const (
	// ReasonOverlapsBooking: it overlaps (slew time included) something already booked.
	ReasonOverlapsBooking Reason = "overlaps_booking"
	// ReasonOverlapsChoice: it overlaps (slew time included) a pass this run chose first, one
	// of a higher score or of a team further below its share.
	ReasonOverlapsChoice Reason = "overlaps_choice"
	// ReasonTooShort: it is shorter than the minimum duration.
	ReasonTooShort Reason = "too_short"
	// ReasonCutByHorizon: it starts before the horizon (too soon to dispatch) or ends after it
	// (a later run books it whole).
	ReasonCutByHorizon Reason = "cut_by_horizon"
	// ReasonRefused: the observations service refused to book it (Run only).
	ReasonRefused Reason = "refused"
)

// Conflict names what a skipped pass collided with: an existing booking (BookingID set) or a
// pass chosen in the same run (NORAD set).
type Conflict struct {
	BookingID string
	TeamID    string
	NORAD     int
	AOS, LOS  time.Time
}

// Skip is a pass a team could have had, and why it did not get it.
type Skip struct {
	Choice
	Reason   Reason
	Conflict *Conflict
	// Detail is a refusal's message.
	Detail string
}

// SpacecraftError is a spacecraft that could not be planned over the whole horizon (it
// decays, say); its passes before that were still considered.
type SpacecraftError struct {
	NORAD        int
	ElementSetID string
	Err          string
}

// Stats tell how big a run was and where its time went.
type Stats struct {
	Stations, Spacecraft, Passes, Candidates int
	// Plan is the time spent finding passes, Choose the time choosing among them.
	Plan, Choose time.Duration
}

// Result is what a run chose.
type Result struct {
	From, To time.Time
	// Chosen is ordered by station (the input's order), then AOS.
	Chosen []Choice
	// Skipped is ordered by station, then AOS, then team and NORAD id.
	Skipped []Skip
	Errors  []SpacecraftError
	Stats   Stats
}

// Schedule chooses, for every station, the passes to book over [in.From, in.To). Per station,
// teams take turns by weighted deficit: the team whose booked seconds divided by its weight is
// lowest (already booked time counted) takes its best remaining pass that fits; a pass that
// does not fit is skipped with the booking or choice in its way. See docs/autoscheduler.md.
func Schedule(ctx context.Context, in Input) (*Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.MinDuration <= 0 {
		in.MinDuration = DefaultMinDuration
	}
	workers := in.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := newProblem(in)
	res := &Result{From: in.From, To: in.To}
	res.Stats.Stations, res.Stats.Spacecraft = len(in.Stations), len(p.req.Spacecraft)
	start := time.Now()
	plan, err := planner.Plan(ctx, p.req)
	if err != nil {
		return nil, fmt.Errorf("auto-schedule: %w", err)
	}
	res.Stats.Plan = time.Since(start)
	for _, e := range plan.Errors {
		res.Errors = append(res.Errors, SpacecraftError{NORAD: p.req.Spacecraft[e.Spacecraft].NORAD,
			ElementSetID: p.setIDs[e.Spacecraft], Err: e.Error()})
	}
	start = time.Now()
	byStation := p.candidates(plan.Passes, in.MinDuration)
	res.Stats.Passes = len(plan.Passes)
	out, err := p.chooseAll(ctx, workers, plan.Passes, byStation)
	if err != nil {
		return nil, err
	}
	for i := range out {
		res.Chosen = append(res.Chosen, out[i].chosen...)
		res.Skipped = append(res.Skipped, out[i].skipped...)
		res.Stats.Candidates += out[i].candidates
	}
	res.Stats.Choose = time.Since(start)
	return res, nil
}

// chooseAll fills every station, stations in parallel on workers goroutines; each station's
// result depends on nothing but its own candidates, so the number of workers changes nothing.
func (p *problem) chooseAll(ctx context.Context, workers int, passes []planner.Pass, byStation [][]candidate) ([]stationResult, error) {
	out := make([]stationResult, len(p.in.Stations))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, max(1, len(out))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(out) {
					return
				}
				out[i] = p.choose(i, passes, byStation[i])
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auto-schedule: %w", err)
	}
	return out, nil
}

func (in *Input) validate() error {
	switch {
	case !in.To.After(in.From):
		return fmt.Errorf("%w: horizon end is not after its start", ErrInvalidInput)
	case in.To.Sub(in.From) > planner.MaxWindow:
		return fmt.Errorf("%w: horizon longer than %s", ErrInvalidInput, planner.MaxWindow)
	}
	for _, t := range in.Teams {
		for _, tr := range t.Targets {
			if tr.Elements == nil {
				return fmt.Errorf("%w: team %s, NORAD %d: no element set", ErrInvalidInput, t.ID, tr.NORAD)
			}
		}
	}
	return nil
}

// user is a team's target that uses one planned element set.
type user struct{ team, target int }

// problem is an Input prepared for the planner and the per-station choice.
type problem struct {
	in  Input
	req planner.Request
	// setIDs[k] is the element set id of the planner's spacecraft k; users[k] its targets.
	setIDs []string
	users  [][]user
	// weights[station][team index] is the team's weight there (0: none).
	weights [][]int
}

func newProblem(in Input) *problem {
	p := &problem{in: in, req: planner.Request{From: in.From, To: in.To, Workers: in.Workers}}
	bySet := map[string]int{}
	for ti, t := range in.Teams {
		for xi, tr := range t.Targets {
			k, ok := bySet[tr.ElementSetID]
			if !ok || tr.ElementSetID == "" {
				k = len(p.req.Spacecraft)
				bySet[tr.ElementSetID] = k
				p.req.Spacecraft = append(p.req.Spacecraft, planner.Spacecraft{NORAD: tr.NORAD, Elements: tr.Elements})
				p.setIDs = append(p.setIDs, tr.ElementSetID)
				p.users = append(p.users, nil)
			}
			p.users[k] = append(p.users[k], user{ti, xi})
		}
	}
	teamIndex := map[string]int{}
	for i, t := range in.Teams {
		teamIndex[t.ID] = i
	}
	p.req.MinElevationDeg = 90
	p.weights = make([][]int, len(in.Stations))
	for i, s := range in.Stations {
		p.req.Stations = append(p.req.Stations, planner.Station{ID: s.ID, LatDeg: s.LatDeg, LonDeg: s.LonDeg,
			AltM: s.AltM, MinElevationDeg: s.MinElevationDeg, Mask: s.Mask})
		p.req.MinElevationDeg = min(p.req.MinElevationDeg, s.MinElevationDeg)
		p.weights[i] = make([]int, len(in.Teams))
		for _, sh := range s.Shares {
			if ti, ok := teamIndex[sh.TeamID]; ok && sh.Weight > 0 {
				p.weights[i][ti] = sh.Weight
			}
		}
	}
	if len(in.Stations) == 0 {
		p.req.MinElevationDeg = 0
	}
	return p
}

// candidate is one pass one team could book on one station: small, so that sorting and
// scanning the network's candidates stays cheap; the Choice is built only for the answer.
type candidate struct {
	pass  int32 // index into the plan's passes
	user  user
	why   Reason // set: skipped before choosing
	score float64
	norad int
}

// candidates turns the planner's passes into each station's candidates (with a reason for the
// passes no team can take whole).
func (p *problem) candidates(passes []planner.Pass, minDuration time.Duration) [][]candidate {
	out := make([][]candidate, len(p.in.Stations))
	for k := range passes {
		ps := &passes[k]
		for _, u := range p.users[ps.Spacecraft] {
			if p.weights[ps.Station][u.team] == 0 {
				continue
			}
			tr := &p.in.Teams[u.team].Targets[u.target]
			c := candidate{pass: int32(k), user: u, norad: tr.NORAD,
				score: float64(tr.Priority) * Quality(ps.MaxElevationDeg, ps.LOS.Sub(ps.AOS))}
			switch {
			case ps.InProgressAtStart || ps.InProgressAtEnd:
				c.why = ReasonCutByHorizon
			case ps.LOS.Sub(ps.AOS) < minDuration:
				c.why = ReasonTooShort
			}
			out[ps.Station] = append(out[ps.Station], c)
		}
	}
	return out
}

func (p *problem) choice(st *Station, ps *planner.Pass, u user) Choice {
	team := &p.in.Teams[u.team]
	tr := &team.Targets[u.target]
	q := Quality(ps.MaxElevationDeg, ps.LOS.Sub(ps.AOS))
	return Choice{TeamID: team.ID, StationID: st.ID, NORAD: tr.NORAD, SpacecraftID: tr.SpacecraftID,
		Name: tr.Name, ElementSetID: tr.ElementSetID, TransmitterID: tr.TransmitterID, Decoder: tr.Decoder,
		Priority: tr.Priority, Quality: q, Score: float64(tr.Priority) * q, Pass: *ps,
		Start: st.horizon(ps.AOSAzimuthDeg), End: st.horizon(ps.LOSAzimuthDeg), MinElevationDeg: st.MinElevationDeg}
}

type stationResult struct {
	chosen     []Choice
	skipped    []Skip
	candidates int
}

// station is one station's choice in progress.
type station struct {
	p      *problem
	st     *Station
	i      int
	passes []planner.Pass
	all    []candidate
}

func (s *station) pass(k int32) *planner.Pass { return &s.passes[s.all[k].pass] }

// slot is candidate k as it would occupy the station.
func (s *station) slot(k int32) slot {
	ps := s.pass(k)
	return slot{aos: ps.AOS, los: ps.LOS, start: s.st.horizon(ps.AOSAzimuthDeg), end: s.st.horizon(ps.LOSAzimuthDeg)}
}

// choose fills station i: teams take turns by weighted deficit on booked seconds, each taking
// its best remaining candidate that fits.
func (p *problem) choose(i int, passes []planner.Pass, all []candidate) stationResult {
	s := &station{p: p, st: &p.in.Stations[i], i: i, passes: passes, all: all}
	var r stationResult
	lists := make([][]int32, len(p.in.Teams))
	var skipped []skipRecord
	for k := range all {
		if all[k].why != "" {
			skipped = append(skipped, skipRecord{idx: int32(k), why: all[k].why})
			continue
		}
		lists[all[k].user.team] = append(lists[all[k].user.team], int32(k))
		r.candidates++
	}
	for _, l := range lists {
		slices.SortFunc(l, s.byMerit)
	}
	slots, used := p.busySlots(s.st)
	next := make([]int, len(lists))
	var chosen []int32
	for {
		t := p.neediest(i, lists, next, used)
		if t < 0 {
			break
		}
		k := lists[t][next[t]]
		next[t]++
		x := s.slot(k)
		if hit, ok := slots.conflict(x); ok {
			why := ReasonOverlapsChoice
			if hit.BookingID != "" {
				why = ReasonOverlapsBooking
			}
			skipped = append(skipped, skipRecord{idx: k, why: why, conflict: &hit})
			continue
		}
		x.conflict = Conflict{TeamID: p.in.Teams[t].ID, NORAD: all[k].norad, AOS: x.aos, LOS: x.los}
		slots.add(x)
		used[t] += x.los.Sub(x.aos).Seconds()
		chosen = append(chosen, k)
	}
	slices.SortFunc(chosen, s.byTime)
	slices.SortFunc(skipped, func(a, b skipRecord) int { return s.byTime(a.idx, b.idx) })
	r.chosen = make([]Choice, len(chosen))
	for n, k := range chosen {
		r.chosen[n] = p.choice(s.st, s.pass(k), all[k].user)
	}
	r.skipped = make([]Skip, len(skipped))
	for n, sk := range skipped {
		r.skipped[n] = Skip{Choice: p.choice(s.st, s.pass(sk.idx), all[sk.idx].user), Reason: sk.why, Conflict: sk.conflict}
	}
	return r
}

type skipRecord struct {
	idx      int32
	why      Reason
	conflict *Conflict
}

// busySlots returns station st's existing bookings as slots, and the seconds of them each team
// already has inside the horizon.
func (p *problem) busySlots(st *Station) (*slots, []float64) {
	slots := newSlots(st.Slew)
	used := make([]float64, len(p.in.Teams))
	for _, b := range p.in.Busy[st.ID] {
		slots.add(slot{aos: b.AOS, los: b.LOS, start: b.Start, end: b.End,
			conflict: Conflict{BookingID: b.ID, TeamID: b.TeamID, AOS: b.AOS, LOS: b.LOS}})
		for ti, t := range p.in.Teams {
			if t.ID == b.TeamID {
				used[ti] += overlap(b.AOS, b.LOS, p.in.From, p.in.To).Seconds()
			}
		}
	}
	return slots, used
}

// neediest returns the team (with candidates left) furthest below its share at station i: the
// lowest booked seconds per unit of weight; ties go to the larger weight, then the earlier team.
// -1 when no team has candidates left.
func (p *problem) neediest(i int, lists [][]int32, next []int, used []float64) int {
	best := -1
	for t := range lists {
		if next[t] >= len(lists[t]) {
			continue
		}
		if best < 0 {
			best = t
			continue
		}
		wt, wb := float64(p.weights[i][t]), float64(p.weights[i][best])
		// used[t]/wt < used[best]/wb, without dividing.
		if l, r := used[t]*wb, used[best]*wt; l < r || (l == r && wt > wb) {
			best = t
		}
	}
	return best
}

// byMerit orders a team's candidates best first: score, then earlier AOS, then NORAD id.
func (s *station) byMerit(a, b int32) int {
	ca, cb := &s.all[a], &s.all[b]
	if c := cmp.Compare(cb.score, ca.score); c != 0 {
		return c
	}
	if c := s.pass(a).AOS.Compare(s.pass(b).AOS); c != 0 {
		return c
	}
	return cmp.Compare(ca.norad, cb.norad)
}

// byTime orders a station's answer: AOS, then team id, then NORAD id.
func (s *station) byTime(a, b int32) int {
	if c := s.pass(a).AOS.Compare(s.pass(b).AOS); c != 0 {
		return c
	}
	ta, tb := s.p.in.Teams[s.all[a].user.team].ID, s.p.in.Teams[s.all[b].user.team].ID
	if c := cmp.Compare(ta, tb); c != 0 {
		return c
	}
	return cmp.Compare(s.all[a].norad, s.all[b].norad)
}

func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	lo, hi := a0, a1
	if b0.After(lo) {
		lo = b0
	}
	if b1.Before(hi) {
		hi = b1
	}
	return max(0, hi.Sub(lo))
}

// slot is a booked interval on a station and where the antenna points at its ends.
type slot struct {
	aos, los   time.Time
	start, end Pointing
	conflict   Conflict
}

// slots are a station's booked intervals, ordered by AOS. Existing bookings may overlap each
// other, so a search looks back by the longest booking, not only at the previous one.
type slots struct {
	slew             SlewRate
	maxSlew, longest time.Duration
	list             []slot
}

func newSlots(r SlewRate) *slots { return &slots{slew: r, maxSlew: r.maxTime()} }

func (s *slots) add(x slot) {
	i := sort.Search(len(s.list), func(i int) bool { return s.list[i].aos.After(x.aos) })
	s.list = slices.Insert(s.list, i, x)
	s.longest = max(s.longest, x.los.Sub(x.aos))
}

// conflict returns the first booked slot x cannot share the station with: they overlap, or the
// rotator cannot slew from one's last pointing to the other's first in the gap between them.
func (s *slots) conflict(x slot) (Conflict, bool) {
	end := sort.Search(len(s.list), func(i int) bool { return !s.list[i].aos.Before(x.los.Add(s.maxSlew)) })
	earliest := x.aos.Add(-s.longest - s.maxSlew)
	for j := end - 1; j >= 0 && !s.list[j].aos.Before(earliest); j-- {
		b := &s.list[j]
		before := !b.los.Add(s.slew.Time(b.end, x.start)).After(x.aos)
		after := !x.los.Add(s.slew.Time(x.end, b.start)).After(b.aos)
		if !before && !after {
			return b.conflict, true
		}
	}
	return Conflict{}, false
}

// horizon is where the antenna points when a pass rises or sets at azimuth az: on the station's
// minimum elevation, or on its mask where that is higher.
func (s *Station) horizon(az float64) Pointing {
	el := s.MinElevationDeg
	if s.Mask != nil {
		el = max(el, s.Mask.MinElevation(az))
	}
	return Pointing{AzimuthDeg: az, ElevationDeg: el}
}
