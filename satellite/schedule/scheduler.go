// Package schedule keeps a station's observations and runs them on the station's own clock.
// observation.schedule stores an observation durably (store.go) and returns at once; the
// Scheduler's Run loop wakes before each pass, starts its decoder, hands the pass to the
// tracker and reports observation.* events, whether or not the backend is reachable. A runner
// restarted mid-pass (crash, power loss) resumes the pass at its first tick.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
)

// Processes runs an observation's decoder. satellite/proc's Manager fits it through a small
// adapter (proc.SpecFromPayload, the ids on the Spec, then Manager.Start).
type Processes interface {
	// Check tells, when the observation is scheduled, whether its decoder would be allowed to
	// start (its program on the station's allow-list, its arguments, variables, team and
	// limits), so a refused decoder is refused then, not at AOS with nobody watching.
	Check(p api.ProcessStartPayload) error
	// Start starts the decoder d describes; its process.* events carry d's ids.
	Start(ctx context.Context, d Decoder) error
	// Stop stops the decoder called name.
	Stop(ctx context.Context, name string) error
}

// Decoder is an observation's decoder process and the observation it belongs to. Its events
// carry the observation's ids, so they read together with the pass's own events.
type Decoder struct {
	// ObservationID, CommandID and CorrelationID are the observation's (CommandID is the
	// observation.schedule command's id).
	ObservationID string
	CommandID     string
	CorrelationID string
	// Process is the decoder to run.
	Process api.ProcessStartPayload
}

// TargetFunc builds the tracker's target from an observation (its element set). It also
// validates the element set when an observation is scheduled.
type TargetFunc func(p api.ObservationSchedulePayload) (tracker.Target, error)

// DefaultPrepareLead is how long before AOS an observation starts: time to start the decoder
// and to slew the rotator to the rise point from anywhere (a 6°/s rotator crosses 360° in a
// minute). A slower rotator gets longer: see Scheduler.prepareLead.
const DefaultPrepareLead = 90 * time.Second

// Options are the scheduler's collaborators.
type Options struct {
	// StateDir holds the observation store (StoreFile).
	StateDir string
	// Tracker tracks the passes; required.
	Tracker *tracker.Tracker
	// Rotator serves rotator.park; required.
	Rotator rotator.Rotator
	// Targets builds targets from element sets; required (OrbitTargets for the real station).
	Targets TargetFunc
	// Processes runs decoders; nil means observations with a process spec are refused.
	Processes Processes
	// PrepareLead is how long before AOS an observation starts; default DefaultPrepareLead.
	// It is lengthened to the rotator's longest move (its whole range at its SlewRate, plus
	// 10 s) when that is longer.
	PrepareLead time.Duration
	// Clock is the station's clock; nil means the system clock.
	Clock clock.Clock
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Emitter receives observation.prepared, completed and failed; required.
	Emitter events.Emitter
}

// Scheduler runs stored observations at their time. Safe for concurrent use.
type Scheduler struct {
	store   *Store
	tr      *tracker.Tracker
	rot     rotator.Rotator
	targets TargetFunc
	procs   Processes
	prepare time.Duration
	clk     clock.Clock
	log     *zap.Logger
	em      events.Emitter
	wake    chan struct{}

	mu      sync.Mutex // serialises schedule, cancel and the start of a pass
	running *active
}

// active is the observation being run.
type active struct {
	id     string
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// errCancelled is the cause given to a running observation's context by observation.cancel.
var errCancelled = errors.New("cancelled by observation.cancel")

// New opens the store in opts.StateDir and returns a scheduler. A damaged store is an error
// naming the file and the remedy.
func New(opts Options) (*Scheduler, error) {
	if opts.Tracker == nil || opts.Rotator == nil || opts.Targets == nil || opts.Emitter == nil {
		return nil, errors.New("schedule: tracker, rotator, targets and emitter are required")
	}
	store, err := OpenStore(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if _, err := store.All(); err != nil {
		_ = store.Close()
		return nil, err
	}
	s := &Scheduler{store: store, tr: opts.Tracker, rot: opts.Rotator, targets: opts.Targets, procs: opts.Processes,
		prepare: opts.PrepareLead, clk: opts.Clock, log: opts.Logger, em: opts.Emitter, wake: make(chan struct{}, 1)}
	if s.prepare <= 0 {
		s.prepare = DefaultPrepareLead
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// Close closes the store. Call it after Run has returned.
func (s *Scheduler) Close() error { return s.store.Close() }

// Tracking is the tracker's state, for the heartbeat.
func (s *Scheduler) Tracking() *api.TrackingState { return s.tr.Tracking() }

// Observations returns the stored observations, earliest first.
func (s *Scheduler) Observations() ([]Record, error) { return s.store.All() }

// Run runs observations until ctx ends. A pass in progress when ctx ends is stopped and left in
// the store, so the next start resumes it.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		recs, err := s.store.All()
		if err != nil {
			return err
		}
		if err := s.step(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// step does the next thing: drop a missed observation, run one whose time has come, or wait
// for the next one (or a change).
func (s *Scheduler) step(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return s.waitFor(ctx, -1)
	}
	rec := recs[0]
	now := s.clk.Now()
	switch {
	case !now.Before(rec.Payload.LOS):
		return s.missed(rec)
	case now.Before(rec.Payload.AOS.Add(-s.prepareLead())):
		return s.waitFor(ctx, rec.Payload.AOS.Add(-s.prepareLead()).Sub(now))
	}
	s.execute(ctx, rec)
	return ctx.Err()
}

// slewMargin is added to the rotator's longest move when that sets the prepare lead: the
// command latency and the rotator's acceleration.
const slewMargin = 10 * time.Second

// prepareLead is how long before AOS an observation starts: PrepareLead, or longer when the
// rotator needs longer to cross its whole range at its slew rate, so that the pre-positioning
// reaches the rise point by AOS from anywhere (a 1°/s rotator on 0–450° needs seven and a half
// minutes).
func (s *Scheduler) prepareLead() time.Duration {
	rate := s.rot.SlewRate()
	if rate.Validate() != nil {
		return s.prepare
	}
	return max(s.prepare, rate.FullRangeTime(s.rot.Limits())+slewMargin)
}

// waitFor waits d (forever when d < 0), for a schedule change, or for ctx.
func (s *Scheduler) waitFor(ctx context.Context, d time.Duration) error {
	var fire <-chan time.Time
	if d >= 0 {
		t := s.clk.NewTimer(d)
		defer t.Stop()
		fire = t.C()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.wake:
	case <-fire:
	}
	return nil
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// missed drops an observation whose window ended while the station could not run it.
func (s *Scheduler) missed(rec Record) error {
	reason := "missed: the station was not running during the window"
	if rec.State == Running {
		reason = "interrupted: the station stopped during the pass and came back after LOS"
	}
	s.log.Warn("observation window ended unrun", zap.String("observation_id", rec.ID()), zap.String("reason", reason))
	s.emitFailed(rec, reason, nil)
	return s.store.Delete(rec.ID()) // failing here would repeat forever: stop the runner instead
}

// execute runs one observation from preparation to its report.
func (s *Scheduler) execute(ctx context.Context, rec Record) {
	octx, act, ok := s.begin(ctx, rec)
	if !ok {
		return
	}
	defer s.end(act)
	log := s.log.With(zap.String("observation_id", rec.ID()), zap.Int("norad_id", rec.Payload.NoradID))
	resumed := rec.State == Running
	if !resumed {
		rec.State = Running
		if err := s.store.Put(rec); err != nil {
			log.Error("mark observation running", zap.Error(err)) // run it anyway: the pass is now
		}
	}
	s.emit(rec, api.EventObservationPrepared, api.SeverityInfo, "observation prepared", preparedData{
		ObservationID: rec.ID(), NoradID: rec.Payload.NoradID, AOS: rec.Payload.AOS, LOS: rec.Payload.LOS, Resumed: resumed})
	target, err := s.targets(rec.Payload)
	if err != nil {
		s.finish(rec, nil, fmt.Errorf("build target: %w", err))
		return
	}
	procErr := s.startProcess(octx, rec)
	sum, err := s.tr.Track(octx, tracker.Pass{ObservationID: rec.ID(), NoradID: rec.Payload.NoradID, Target: target,
		AOS: rec.Payload.AOS, LOS: rec.Payload.LOS, Transmitter: rec.Payload.Transmitter, Rotator: rec.Payload.Rotator})
	s.stopProcess(ctx, rec, log)
	switch {
	case errors.Is(context.Cause(octx), errCancelled):
		s.finish(rec, &sum, errCancelled)
	case ctx.Err() != nil:
		log.Info("runner stopping mid-pass: the observation stays stored and resumes at the next start")
	default:
		s.complete(rec, completion{Summary: sum, ProcessError: errString(procErr), Faults: sum.Faults()}, err)
	}
}

// complete reports a pass the tracker saw to LOS. A pass where the rotator accepted no
// pointing command at all failed, whatever the counters say; one with some device faults or a
// decoder that would not start completed, at severity warning.
func (s *Scheduler) complete(rec Record, c completion, err error) {
	if err == nil && c.RotatorNeverAccepted() {
		err = fmt.Errorf("rotator never accepted a pointing command during the pass (%d commands refused, %d rotator errors)",
			c.PointingCommands, c.RotatorErrors)
	}
	if err != nil || (c.Faults == 0 && c.ProcessError == "") {
		s.finish(rec, &c, err)
		return
	}
	var problems []string
	if c.Faults > 0 {
		problems = append(problems, fmt.Sprintf("%d device faults (%d rotator, %d radio)", c.Faults, c.RotatorErrors, c.RadioErrors))
	}
	if c.ProcessError != "" {
		problems = append(problems, "decoder did not start: "+c.ProcessError)
	}
	msg := "observation completed with " + strings.Join(problems, "; ")
	s.emit(rec, api.EventObservationCompleted, api.SeverityWarning, msg, &c)
	s.forget(rec)
}

// begin registers rec as the running observation, unless it was cancelled or replaced since
// Run read it.
func (s *Scheduler) begin(ctx context.Context, rec Record) (context.Context, *active, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok, err := s.store.Get(rec.ID())
	if err != nil || !ok || !cur.Payload.AOS.Equal(rec.Payload.AOS) {
		return nil, nil, false
	}
	octx, cancel := context.WithCancelCause(ctx)
	s.running = &active{id: rec.ID(), cancel: cancel, done: make(chan struct{})}
	return octx, s.running, true
}

func (s *Scheduler) end(act *active) {
	s.mu.Lock()
	defer s.mu.Unlock()
	act.cancel(nil)
	close(act.done)
	s.running = nil
}

func (s *Scheduler) startProcess(ctx context.Context, rec Record) error {
	if rec.Payload.Process == nil || s.procs == nil {
		return nil
	}
	d := Decoder{ObservationID: rec.ID(), CommandID: rec.CommandID, CorrelationID: rec.CorrelationID, Process: *rec.Payload.Process}
	if err := s.procs.Start(ctx, d); err != nil {
		s.log.Error("start decoder; tracking anyway", zap.String("observation_id", rec.ID()), zap.Error(err))
		return err
	}
	return nil
}

func (s *Scheduler) stopProcess(ctx context.Context, rec Record, log *zap.Logger) {
	if rec.Payload.Process == nil || s.procs == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.procs.Stop(sctx, rec.Payload.Process.Name); err != nil {
		log.Warn("stop decoder", zap.Error(err))
	}
}

// finish reports the observation's end and forgets it.
func (s *Scheduler) finish(rec Record, data any, err error) {
	if err != nil {
		s.emitFailed(rec, err.Error(), data)
	} else {
		s.emit(rec, api.EventObservationCompleted, api.SeverityInfo, "observation completed", data)
	}
	s.forget(rec)
}

func (s *Scheduler) forget(rec Record) {
	if derr := s.store.Delete(rec.ID()); derr != nil {
		s.log.Error("forget finished observation", zap.String("observation_id", rec.ID()), zap.Error(derr))
	}
}

// preparedData is the data of observation.prepared.
type preparedData struct {
	ObservationID string    `json:"observation_id"`
	NoradID       int       `json:"norad_id"`
	AOS           time.Time `json:"aos"`
	LOS           time.Time `json:"los"`
	// Resumed says the pass was already under way when the runner (re)started.
	Resumed bool `json:"resumed"`
}

// completion is the data of observation.completed: the tracker's summary and the decoder's
// fate.
type completion struct {
	tracker.Summary
	ProcessError string `json:"process_error,omitempty"`
	// Faults counts the pass's failed rotator and radio calls (rotator_errors + radio_errors).
	Faults int `json:"faults"`
}

// failedData is the data of observation.failed.
type failedData struct {
	ObservationID string `json:"observation_id"`
	NoradID       int    `json:"norad_id"`
	Reason        string `json:"reason"`
	// Partial is what was done before the failure (a tracker summary), if anything.
	Partial any `json:"partial,omitempty"`
}

func (s *Scheduler) emitFailed(rec Record, reason string, partial any) {
	sev := api.SeverityError
	if reason == errCancelled.Error() {
		sev = api.SeverityInfo
	}
	s.emit(rec, api.EventObservationFailed, sev, "observation failed: "+reason,
		failedData{ObservationID: rec.ID(), NoradID: rec.Payload.NoradID, Reason: reason, Partial: partial})
}

func (s *Scheduler) emit(rec Record, typ string, sev api.Severity, msg string, data any) {
	ev := events.New(s.clk.Now(), typ, sev, msg, data)
	ev.CommandID, ev.CorrelationID = rec.CommandID, rec.CorrelationID
	s.em.Emit(ev)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
