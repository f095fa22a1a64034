// Package autosched is the auto-scheduler: it fills each station's free time over a horizon
// (24 h by default) with the best passes of the spacecraft the teams asked for, by priority ×
// pass quality, without overlaps (the rotator's slew time between two passes included), and
// fairly between the teams that share the station by their shares of time.
//
// Schedule is the algorithm: a pure function of its Input (no store, no clock), deterministic,
// planning with backend/planner on every core and then choosing per station in parallel.
// Runner loads the input from the store and the catalog and books the choices through a Booker
// (the observations service); Job re-runs it every hour and when the catalog or the settings
// change, one run per team at a time across replicas. It knows no HTTP. See
// docs/autoscheduler.md and docs/decisions/0091-auto-scheduler.md.
package autosched

import (
	"context"
	"time"

	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/orbit"
)

// Defaults of a run.
const (
	// DefaultHorizon is how far ahead a run fills the stations.
	DefaultHorizon = 24 * time.Hour
	// DefaultMinLead is how far ahead of now the first pass may start: a pass must reach the
	// station before AOS (SatNOGS uses the same 10 minutes).
	DefaultMinLead = 10 * time.Minute
	// DefaultMinDuration is the shortest pass worth booking (SatNOGS uses 120 s).
	DefaultMinDuration = 120 * time.Second
	// DefaultSlewRateDegS is the slew rate assumed for both axes of a station that did not
	// set its own, degrees per second: slower than most amateur rotators (a Yaesu G-5500
	// turns about 6°/s in azimuth and 2.5–3°/s in elevation), so the gap it gives is safe.
	DefaultSlewRateDegS = 2.5
	// DefaultMinElevationDeg is a station's minimum elevation when it set none, degrees.
	DefaultMinElevationDeg = 10.0
)

// Target is one spacecraft on a team's list.
type Target struct {
	// NORAD is the catalog number.
	NORAD int
	// Priority weighs the spacecraft's passes, 1 (lowest) to 100: a pass's score is
	// Priority × Quality, so priority 2 counts twice priority 1.
	Priority int
	// TransmitterID is the catalog id of the transmitter to receive; Decoder the program the
	// station runs (empty: the station's default).
	TransmitterID string
	Decoder       string
}

// Tracked is a target resolved in its team's catalog: the element set to plan with.
type Tracked struct {
	Target
	// SpacecraftID and ElementSetID are catalog ids; Elements is the parsed set. Targets of
	// different teams with the same ElementSetID are planned once. Name is the spacecraft's.
	SpacecraftID string
	Name         string
	ElementSetID string
	Elements     *orbit.ElementSet
}

// Team is a team's list, resolved.
type Team struct {
	ID      string
	Targets []Tracked
}

// Share is a team's share of a station's time: teams get booked seconds in the ratio of their
// weights.
type Share struct {
	TeamID string
	Weight int
}

// SlewRate is a rotator's speed per axis, degrees per second.
type SlewRate struct {
	AzimuthDegS, ElevationDegS float64
}

// Pointing is where the antenna points: azimuth (degrees from north, 0–360) and elevation,
// degrees.
type Pointing struct {
	AzimuthDeg, ElevationDeg float64
}

// Station is a station to fill.
type Station struct {
	// ID is the satellite id of the station's runner; TeamID the team that owns it.
	ID, TeamID string
	// LatDeg, LonDeg (degrees) and AltM (metres above WGS-84) place it.
	LatDeg, LonDeg, AltM float64
	// MinElevationDeg is the lowest elevation a pass must rise above, degrees.
	MinElevationDeg float64
	// Mask is the station's horizon mask (its sky, set on the satellite), nil for a flat one.
	Mask *orbit.HorizonMask
	// Slew is the rotator's speed; zero fields take DefaultSlewRateDegS.
	Slew SlewRate
	// Shares lists the teams that may use the station and how much.
	Shares []Share
}

// Booking is something already booked on a station: an observation of any team.
type Booking struct {
	// ID names it (an observation id) in the reasons of skipped passes.
	ID string
	// TeamID is whose it is; a team with a share is credited its time.
	TeamID string
	// AOS and LOS bound it; Start and End are where the antenna points at them.
	AOS, LOS   time.Time
	Start, End Pointing
}

// Choice is one pass the auto-scheduler chose (or, in a Skip, did not).
type Choice struct {
	TeamID, StationID string
	NORAD             int
	SpacecraftID      string
	Name              string
	ElementSetID      string
	TransmitterID     string
	Decoder           string
	Priority          int
	// Quality (0–1) and Score (Priority × Quality) are the pass's merit (score.go).
	Quality, Score float64
	// Pass is the planner's pass; its Station and Spacecraft index the run's planner request.
	Pass planner.Pass
	// Start and End are the antenna's pointing at AOS and LOS.
	Start, End Pointing
	// MinElevationDeg is the elevation the pass was planned above (its AOS and LOS lie on it, or
	// on the station's mask where that is higher).
	MinElevationDeg float64
}

// Booker is what the auto-scheduler needs from the observations service.
type Booker interface {
	// Busy lists what is already booked on a station (a satellite id) in [from, to).
	Busy(ctx context.Context, satelliteID string, from, to time.Time) ([]Booking, error)
	// Book schedules one chosen pass; a refusal is returned as an error and the pass skipped.
	Book(ctx context.Context, c Choice) error
}
