package observations

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
)

// Sources of a booking.
const (
	SourceUser = "user"
	SourceAuto = "auto"
)

// ProgramCapability prefixes the capabilities through which a station reports its allow-list
// of decoder programs at registration ("program.noaa-apt"); a station reporting none is not
// checked here (it checks its own list when the observation arrives).
const ProgramCapability = "program."

// ScheduleInput is one pass to book.
type ScheduleInput struct {
	TeamID string
	// SatelliteID is the station.
	SatelliteID string
	// NORAD is the spacecraft's catalog number, in the team's visible catalog.
	NORAD int
	// AOS and LOS name the pass: they must match the planner's pass within the pass tolerance;
	// the planner's times are booked.
	AOS, LOS time.Time
	// TransmitterID is one of the spacecraft's transmitters; "" picks its first alive one with
	// a downlink.
	TransmitterID string
	// Decoder is a program of the station's allow-list to run during the pass; "" runs none.
	Decoder string
	// CreatedBy names the booker (a user id, "autosched").
	CreatedBy string
	// MinElevationDeg is the elevation the pass was planned above (GET /passes?min_el=), degrees;
	// the higher of it, the settings' and the station's own minimum applies. A pass planned at
	// 10° has other AOS and LOS than the same pass at 0°.
	MinElevationDeg float64
	// DryRun checks everything and books nothing.
	DryRun bool
	// Source is SourceUser (default) or SourceAuto.
	Source string
}

var programRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func (in *ScheduleInput) validate() error {
	if in.Source == "" {
		in.Source = SourceUser
	}
	switch {
	case !store.ValidID(in.TeamID):
		return invalid("team_id", "team_id must be a team id")
	case !store.ValidID(in.SatelliteID):
		return invalid("satellite_id", "satellite_id must be a station id")
	case in.NORAD < 1 || in.NORAD > 339999:
		return invalid("norad", "norad must be a catalog number from 1 to 339999")
	case in.AOS.IsZero():
		return invalid("aos", "aos is required (RFC 3339)")
	case in.LOS.IsZero():
		return invalid("los", "los is required (RFC 3339)")
	case !in.LOS.After(in.AOS):
		return invalid("los", "los must be after aos")
	case in.LOS.Sub(in.AOS) > api.MaxObservationWindow:
		return invalid("los", "the pass may last at most %s", api.MaxObservationWindow)
	case in.TransmitterID != "" && !store.ValidID(in.TransmitterID):
		return invalid("transmitter_id", "transmitter_id must be a transmitter id")
	case in.Decoder != "" && !programRe.MatchString(in.Decoder):
		return invalid("decoder", "decoder must be a program name: 1 to 63 of a-z 0-9 . _ -, starting with a letter or digit")
	case !(in.MinElevationDeg >= -5 && in.MinElevationDeg < 90):
		return invalid("min_el", "min_el must be from -5 to under 90 degrees")
	case in.Source != SourceUser && in.Source != SourceAuto:
		return invalid("source", "source must be %q or %q", SourceUser, SourceAuto)
	}
	return nil
}

// Schedule books one pass, or with DryRun checks that it could be. A refusal is an *Error (the
// first rule that refused; Preview lists them all); a station the team may not use is
// store.ErrNotFound. The observation is returned in state scheduled (with DryRun, unsaved and
// without an id).
func (s *Service) Schedule(ctx context.Context, in ScheduleInput) (*store.Observation, error) {
	o, refusals, err := s.Preview(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(refusals) > 0 {
		return nil, refusals[0]
	}
	if in.DryRun {
		return o, nil
	}
	rate, err := s.slewRateOf(ctx, o.SatelliteID)
	if err != nil {
		return nil, err
	}
	err = s.st.BookObservation(ctx, o, maxSlew(rate), func(near []store.Observation) error {
		if e := conflicts(o, near, rate); e != nil {
			return e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.metrics.booked.WithLabelValues(o.Source).Inc()
	return o, nil
}

// Preview checks a booking against every rule and returns the observation it would book and
// every refusal (none: it would be booked). Invalid input and a station the team may not use
// (store.ErrNotFound) are returned as the error.
func (s *Service) Preview(ctx context.Context, in ScheduleInput) (*store.Observation, []*Error, error) {
	if err := in.validate(); err != nil {
		return nil, nil, err
	}
	sat, err := s.station(ctx, in.TeamID, in.SatelliteID)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	o := &store.Observation{TeamID: in.TeamID, SatelliteID: sat.ID, NORADID: in.NORAD, AOS: in.AOS.UTC(), LOS: in.LOS.UTC(),
		Decoder: in.Decoder, CreatedBy: in.CreatedBy, Source: in.Source, State: store.ObsScheduled}
	var out []*Error
	add := func(e *Error) {
		if e != nil {
			out = append(out, e)
		}
	}
	add(s.checkOnline(sat, now))
	add(s.checkTimes(in, now))
	add(checkDecoder(sat, in.Decoder))
	tracked, err := s.spacecraft(ctx, in.TeamID, in.NORAD)
	if err != nil {
		return nil, nil, err
	}
	if tracked == nil {
		return o, append(out, refused(RuleSpacecraft, "norad", "NORAD %d is not in the team's catalog with an element set", in.NORAD)), nil
	}
	o.SpacecraftID = tracked.SpacecraftID
	add(s.checkElementSet(ctx, tracked, o))
	add(s.pickTransmitter(ctx, tracked, in.TransmitterID, o))
	minEl := max(s.set.MinElevationDeg, in.MinElevationDeg, sat.MinElevationDeg)
	pass, e, err := s.matchPass(ctx, sat, tracked, in.AOS, in.LOS, minEl)
	if err != nil {
		return nil, nil, err
	}
	if e != nil {
		return o, append(out, e), nil
	}
	setPass(o, pass, minEl)
	rate, err := s.slewRateOf(ctx, sat.ID)
	if err != nil {
		return nil, nil, err
	}
	near, err := s.st.BusyObservations(ctx, sat.ID, o.AOS.Add(-maxSlew(rate)), o.LOS.Add(maxSlew(rate)))
	if err != nil {
		return nil, nil, err
	}
	add(conflicts(o, near, rate))
	return o, out, nil
}

// station returns the station when the team may book it: its own, or shared with it.
func (s *Service) station(ctx context.Context, teamID, id string) (*store.Satellite, error) {
	sat, err := s.st.SatelliteByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if sat.TeamID != nil && *sat.TeamID == teamID {
		return sat, nil
	}
	if s.shared != nil {
		ok, err := s.shared(ctx, teamID, sat)
		if err != nil {
			return nil, fmt.Errorf("station %s shared with team %s: %w", id, teamID, err)
		}
		if ok {
			return sat, nil
		}
	}
	return nil, fmt.Errorf("station %s: %w", id, store.ErrNotFound)
}

func (s *Service) checkOnline(sat *store.Satellite, now time.Time) *Error {
	if sat.Paused(now) {
		return refused(RuleStationPaused, "satellite_id", "station %s is paused: %s", sat.Name, sat.PauseNote)
	}
	if sat.Status == string(api.StatusOnline) || sat.Status == string(api.StatusDegraded) {
		return nil
	}
	if sat.LastSeenAt == nil {
		return refused(RuleStationOffline, "satellite_id", "station %s is %s and has never been seen", sat.Name, sat.Status)
	}
	if ago := now.Sub(*sat.LastSeenAt); ago > s.set.SeenWithin {
		return refused(RuleStationOffline, "satellite_id", "station %s is %s, last seen %s ago (at %s); bookings need it seen within %s",
			sat.Name, sat.Status, ago.Round(time.Second), sat.LastSeenAt.UTC().Format(time.RFC3339), s.set.SeenWithin)
	}
	return nil
}

func (s *Service) checkTimes(in ScheduleInput, now time.Time) *Error {
	if d := in.LOS.Sub(in.AOS); d < s.set.MinDuration {
		return refused(RuleMinDuration, "los", "the pass lasts %s, shorter than the minimum of %s", d.Round(time.Second), s.set.MinDuration)
	}
	if lead := in.AOS.Sub(now); lead < s.set.MinLead {
		return refused(RuleLeadTime, "aos", "AOS is %s away; bookings need at least %s before AOS", lead.Round(time.Second), s.set.MinLead)
	}
	return nil
}

// checkDecoder checks the decoder against the programs the station reported, if it reported any.
func checkDecoder(sat *store.Satellite, decoder string) *Error {
	if decoder == "" {
		return nil
	}
	var programs []string
	for _, c := range sat.Capabilities {
		if p, ok := strings.CutPrefix(c, ProgramCapability); ok {
			programs = append(programs, p)
		}
	}
	if len(programs) == 0 || slices.Contains(programs, decoder) {
		return nil
	}
	return refused(RuleDecoder, "decoder", "%q is not in station %s's allow-list of programs (%s)", decoder, sat.Name, strings.Join(programs, ", "))
}

// spacecraft is the team's visible spacecraft with that NORAD id, with its current element set;
// nil when the team's catalog has none.
func (s *Service) spacecraft(ctx context.Context, teamID string, norad int) (*catalog.Tracked, error) {
	tracked, err := s.cat.Visible(ctx, teamID, catalog.Filter{NORADIDs: []int{norad}})
	if err != nil || len(tracked) == 0 {
		return nil, err
	}
	return &tracked[0], nil
}

// checkElementSet records the set the pass is planned with; the station must be able to take it
// (two lines or OMM JSON: a KVN record cannot be sent).
func (s *Service) checkElementSet(ctx context.Context, t *catalog.Tracked, o *store.Observation) *Error {
	es, err := s.st.ElementSetByID(ctx, t.ElementSetID)
	if err == nil {
		_, err = payloadElementSet(es)
	}
	if err != nil {
		return refused(RuleElementSet, "norad", "the current element set of NORAD %d cannot be sent to a station: %v", t.NORADID, err)
	}
	o.ElementSetID, o.ElementSetEpoch, o.CheckedSetID = es.ID, es.Epoch, es.ID
	return nil
}

func (s *Service) pickTransmitter(ctx context.Context, t *catalog.Tracked, id string, o *store.Observation) *Error {
	txs, err := s.st.Transmitters(ctx, t.SpacecraftID)
	if err != nil {
		return refused(RuleTransmitter, "transmitter_id", "the transmitters of NORAD %d cannot be read", t.NORADID)
	}
	for i := range txs {
		tx := &txs[i]
		if tx.DownlinkLow == nil {
			continue
		}
		if id == tx.ID || (id == "" && tx.Alive) {
			o.TransmitterID = tx.ID
			return nil
		}
	}
	if id != "" {
		return refused(RuleTransmitter, "transmitter_id", "NORAD %d has no transmitter %s with a downlink", t.NORADID, id)
	}
	return refused(RuleTransmitter, "transmitter_id", "NORAD %d has no alive transmitter with a downlink: name one", t.NORADID)
}

// passSearchMargin widens the planner's window around the booking so the pass is found whole.
const passSearchMargin = 30 * time.Minute

// matchPass finds the planner's pass of the spacecraft over the station whose AOS and LOS are
// within the tolerance of the booking's: no one books a pass that is not there.
//
// The pass is the part above minEl and the station's horizon mask (what GET /passes?min_el=
// gives): a pass that does not rise that high is refused by the min_elevation rule, named as such.
func (s *Service) matchPass(ctx context.Context, sat *store.Satellite, t *catalog.Tracked, aos, los time.Time, minEl float64) (*planner.Pass, *Error, error) {
	passes, err := s.plan(ctx, sat, t, aos.Add(-passSearchMargin), los.Add(passSearchMargin), minEl)
	if err != nil {
		return nil, nil, err
	}
	if p := s.near(passes, aos, los); p != nil {
		return p, nil, nil
	}
	if minEl > -5 {
		low, err := s.plan(ctx, sat, t, aos.Add(-passSearchMargin), los.Add(passSearchMargin), -5)
		if err != nil {
			return nil, nil, err
		}
		if p := s.near(low, aos, los); p != nil && p.MaxElevationDeg < minEl {
			return nil, refused(RuleMinElevation, "aos", "the pass rises to %.1f°, below the station's minimum elevation of %.1f°",
				p.MaxElevationDeg, minEl), nil
		}
	}
	return nil, refused(RuleNoPass, "aos", "NORAD %d has no pass above %.1f° over station %s with AOS %s and LOS %s (within %s); "+
		"ask GET /passes?min_el=%g for the passes", t.NORADID, minEl, sat.Name, aos.UTC().Format(time.RFC3339),
		los.UTC().Format(time.RFC3339), s.set.PassTolerance, minEl), nil
}

// near is the whole pass whose AOS and LOS are within the tolerance of aos and los, or nil.
func (s *Service) near(passes []planner.Pass, aos, los time.Time) *planner.Pass {
	tol := s.set.PassTolerance
	for i := range passes {
		p := &passes[i]
		if p.InProgressAtStart || p.InProgressAtEnd {
			continue
		}
		if absDur(p.AOS.Sub(aos)) <= tol && absDur(p.LOS.Sub(los)) <= tol {
			return p
		}
	}
	return nil
}

// plan returns the passes above minEl (degrees) and the station's horizon mask of one spacecraft
// over one station in [from, to).
func (s *Service) plan(ctx context.Context, sat *store.Satellite, t *catalog.Tracked, from, to time.Time, minEl float64) ([]planner.Pass, error) {
	mask, err := planner.StationMask(sat.HorizonMask)
	if err != nil {
		return nil, fmt.Errorf("horizon mask of station %s: %w", sat.ID, err)
	}
	res, err := planner.Plan(ctx, planner.Request{
		Spacecraft: []planner.Spacecraft{{NORAD: t.NORADID, Name: t.Name, Elements: t.Elements}},
		Stations:   []planner.Station{{ID: sat.ID, LatDeg: sat.Lat, LonDeg: sat.Lon, AltM: sat.AltM, Mask: mask}},
		From:       from, To: to, MinElevationDeg: minEl, Workers: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("plan NORAD %d over station %s: %w", t.NORADID, sat.ID, err)
	}
	return res.Passes, nil
}

// setPass writes pass p, planned above minEl degrees, into o.
func setPass(o *store.Observation, p *planner.Pass, minEl float64) {
	us := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) } // as the databases keep it
	o.AOS, o.TCA, o.LOS = us(p.AOS), us(p.TCA), us(p.LOS)
	o.MaxEl, o.AOSAz, o.LOSAz, o.HorizonEl = p.MaxElevationDeg, p.AOSAzimuthDeg, p.LOSAzimuthDeg, minEl
}

// conflicts is the first observation of near that o overlaps, or that leaves the rotator too
// little time to slew between the two passes.
func conflicts(o *store.Observation, near []store.Observation, rate SlewRate) *Error {
	for i := range near {
		b := &near[i]
		if b.ID == o.ID {
			continue
		}
		if b.AOS.Before(o.LOS) && o.AOS.Before(b.LOS) {
			return &Error{Kind: Conflict, Rule: RuleOverlap, Field: "aos", ConflictID: b.ID, Message: fmt.Sprintf(
				"overlaps observation %s (NORAD %d, %s to %s) on this station", b.ID, b.NORADID,
				b.AOS.Format(time.RFC3339), b.LOS.Format(time.RFC3339))}
		}
		first, second := b, o
		if o.LOS.Compare(b.AOS) <= 0 {
			first, second = o, b
		}
		need := SlewTime(losPointing(first), aosPointing(second), rate)
		if gap := second.AOS.Sub(first.LOS); gap < need {
			return &Error{Kind: Conflict, Rule: RuleSlewGap, Field: "aos", ConflictID: b.ID, Message: fmt.Sprintf(
				"observation %s (NORAD %d) leaves %s between the passes; the rotator needs %s to slew from az %.1f° to az %.1f°",
				b.ID, b.NORADID, gap.Round(time.Millisecond), need, first.LOSAz, second.AOSAz)}
		}
	}
	return nil
}

// Booked is an interval a station is booked for, with the pointing at its ends (for slew times).
type Booked struct {
	ObservationID string
	TeamID        string
	NORAD         int
	State         string
	AOS, LOS      time.Time
	AOSPointing   Pointing
	LOSPointing   Pointing
}

// Busy lists the observations that hold a station's time in [from, to), by AOS: what the
// auto-scheduler must leave free (with SlewTime between the pointings).
func (s *Service) Busy(ctx context.Context, satelliteID string, from, to time.Time) ([]Booked, error) {
	obs, err := s.st.BusyObservations(ctx, satelliteID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]Booked, len(obs))
	for i := range obs {
		o := &obs[i]
		out[i] = Booked{ObservationID: o.ID, TeamID: o.TeamID, NORAD: o.NORADID, State: o.State, AOS: o.AOS, LOS: o.LOS,
			AOSPointing: aosPointing(o), LOSPointing: losPointing(o)}
	}
	return out, nil
}

// SlewRateOf is the rotator speed the rules assume for a station.
func (s *Service) SlewRateOf(ctx context.Context, satelliteID string) (SlewRate, error) {
	if _, err := s.st.SatelliteByID(ctx, satelliteID); err != nil {
		return SlewRate{}, err
	}
	return s.slewRateOf(ctx, satelliteID)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func absDeg(d float64) float64 {
	d = math.Mod(math.Abs(d), 360)
	if d > 180 {
		return 360 - d
	}
	return d
}
