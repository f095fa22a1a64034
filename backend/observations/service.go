// Package observations makes the observation the backend's own object: booking a pass on a
// station under the scheduling rules (the station's, online, no overlap including the rotator's
// slew, lead time, duration, elevation, decoder, a real pass), dispatching observation.schedule
// ahead of AOS and again when a newer element set moves the pass, following the station's
// observation.* events through the lifecycle, marking silent passes missed, and judging every
// finished pass with a verdict. See docs/observations.md.
//
// It knows no HTTP. The server's handlers and the auto-scheduler call Schedule, Busy, Cancel and
// OverrideVerdict; the server hands it the station's events (Ingest); Run is the background job
// on every replica. Commands are queued only through commands.Service.Create.
package observations

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
)

// Settings are the scheduling, dispatch and verdict settings; zero fields take the defaults
// named beside them (docs/observations.md, docs/operations.md).
type Settings struct {
	// MinLead is the shortest time from booking to AOS (default 10 min).
	MinLead time.Duration
	// MinDuration is the shortest pass that may be booked, AOS to LOS (default 120 s).
	MinDuration time.Duration
	// SeenWithin: a station that is not online may still be booked when it was last seen this
	// recently (default 1 h).
	SeenWithin time.Duration
	// MinElevationDeg is the stations' minimum elevation, degrees: a booked pass is the part
	// above it, and a pass whose maximum elevation is lower is refused (default 0°).
	MinElevationDeg float64
	// PassTolerance is how far a booking's AOS and LOS may be from the planner's pass (default 10 s).
	PassTolerance time.Duration
	// SlewRate is the rotators' speed when a station reports none (default 2°/s on each axis).
	SlewRate SlewRate
	// DispatchAhead is how long before AOS observation.schedule is sent (default 1 h).
	DispatchAhead time.Duration
	// MissedGrace is how long after LOS a pass without a final report is marked missed
	// (default 10 min).
	MissedGrace time.Duration
	// Interval is how often the job looks for work (default 10 s).
	Interval time.Duration
	// ClaimFor is how long a replica's claim of an observation lasts (default 1 min).
	ClaimFor time.Duration
}

// Defaults of Settings.
const (
	DefaultMinLead       = 10 * time.Minute
	DefaultMinDuration   = 120 * time.Second
	DefaultSeenWithin    = time.Hour
	DefaultPassTolerance = 10 * time.Second
	DefaultDispatchAhead = time.Hour
	DefaultMissedGrace   = 10 * time.Minute
	DefaultInterval      = 10 * time.Second
	DefaultClaimFor      = time.Minute
	// DefaultSlewDegS is the default rotator speed on each axis, degrees per second.
	DefaultSlewDegS = 2.0
)

func (s *Settings) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&s.MinLead, DefaultMinLead)
	set(&s.MinDuration, DefaultMinDuration)
	set(&s.SeenWithin, DefaultSeenWithin)
	set(&s.PassTolerance, DefaultPassTolerance)
	set(&s.DispatchAhead, DefaultDispatchAhead)
	set(&s.MissedGrace, DefaultMissedGrace)
	set(&s.Interval, DefaultInterval)
	set(&s.ClaimFor, DefaultClaimFor)
	if s.SlewRate.AzDegS <= 0 {
		s.SlewRate.AzDegS = DefaultSlewDegS
	}
	if s.SlewRate.ElDegS <= 0 {
		s.SlewRate.ElDegS = DefaultSlewDegS
	}
}

// Options configure a Service. Store, Commands and Catalog are required.
type Options struct {
	Store    *store.Store
	Commands *commands.Service
	Catalog  *catalog.Catalog
	Logger   *zap.Logger
	Settings Settings
	// SharedWith reports whether a station of another team is shared with teamID (the
	// auto-scheduler's station shares); nil: a team books only its own stations.
	SharedWith func(ctx context.Context, teamID string, station *store.Satellite) (bool, error)
	// Now is the clock (default the store's).
	Now func() time.Time
}

// Service applies the observation rules. It is safe for concurrent use, on several replicas.
type Service struct {
	st      *store.Store
	cmds    *commands.Service
	cat     *catalog.Catalog
	log     *zap.Logger
	set     Settings
	shared  func(ctx context.Context, teamID string, station *store.Satellite) (bool, error)
	now     func() time.Time
	metrics *metrics
}

// New builds a Service. Register its Collectors wherever metrics are served.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = o.Store.Now
	}
	o.Settings.defaults()
	return &Service{st: o.Store, cmds: o.Commands, cat: o.Catalog, log: o.Logger, set: o.Settings,
		shared: o.SharedWith, now: func() time.Time { return o.Now().UTC() }, metrics: newMetrics()}
}

// Settings are the settings in force (defaults filled in).
func (s *Service) Settings() Settings { return s.set }

// Kind classifies a refusal.
type Kind int

// Kinds of refusal.
const (
	// Invalid input: a 400 naming the field.
	Invalid Kind = iota
	// Refused by a scheduling rule: a 422 naming the rule and the field.
	Refused
	// Conflict with another observation (overlap, slew gap) or with the observation's state: a
	// 409 naming the rule and, for a booking, the conflicting observation.
	Conflict
)

// Rules, the stable codes of refusals.
const (
	RuleInvalid        = "invalid_request"
	RuleStationOffline = "station_offline"
	RuleLeadTime       = "lead_time"
	RuleMinDuration    = "min_duration"
	RuleSpacecraft     = "spacecraft"
	RuleElementSet     = "element_set"
	RuleTransmitter    = "transmitter"
	RuleDecoder        = "decoder"
	RuleNoPass         = "no_pass"
	RuleMinElevation   = "min_elevation"
	// RuleStationPaused refuses a station whose operator paused it (docs/operations.md).
	RuleStationPaused = "station_paused"
	RuleOverlap       = "overlap"
	RuleSlewGap       = "slew_gap"
	RuleState         = "state"
)

// Error is a refusal: what rule, which input field, why, and for a conflict the conflicting
// observation.
type Error struct {
	Kind       Kind
	Rule       string
	Field      string
	Message    string
	ConflictID string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Rule, e.Message) }

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Rule: RuleInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func refused(rule, field, format string, args ...any) *Error {
	return &Error{Kind: Refused, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)}
}
