package tracker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/rotator"
)

// Pass is one pass to track.
type Pass struct {
	ObservationID string
	NoradID       int
	Target        Target
	// AOS and LOS bound the tracking; before AOS the rotator waits at the rise point.
	AOS, LOS    time.Time
	Transmitter api.ObservationTransmitter
	Rotator     api.RotatorSettings
}

// Summary is the pass's pointing and tuning record, sent in observation.completed.
type Summary struct {
	ObservationID string `json:"observation_id"`
	// Ticks counts pointing ticks; TrackedTicks those between AOS and LOS.
	Ticks        int `json:"ticks"`
	TrackedTicks int `json:"tracked_ticks"`
	// MaxPointingErrorDeg, MeanPointingErrorDeg and P95PointingErrorDeg are the error the
	// antenna really had, degrees: each position read back (get_pos) between AOS and LOS
	// against the spacecraft at the moment it was read.
	MaxPointingErrorDeg  float64 `json:"max_pointing_error_deg"`
	MeanPointingErrorDeg float64 `json:"mean_pointing_error_deg"`
	P95PointingErrorDeg  float64 `json:"p95_pointing_error_deg"`
	// MaxCommandedErrorDeg, MeanCommandedErrorDeg and P95CommandedErrorDeg are the error of
	// the position last commanded against the spacecraft at each tracked tick, degrees: what
	// the aiming alone achieves, whatever the rotator's speed (decision 0086).
	MaxCommandedErrorDeg  float64 `json:"max_commanded_error_deg"`
	MeanCommandedErrorDeg float64 `json:"mean_commanded_error_deg"`
	P95CommandedErrorDeg  float64 `json:"p95_commanded_error_deg"`
	// Overruns counts ticks that started more than a period late (both loops).
	Overruns int `json:"overruns"`
	// MaxLatenessMs is the latest a pointing tick started after its slot, milliseconds.
	MaxLatenessMs float64 `json:"max_lateness_ms"`
	Moves         int     `json:"moves"`
	// Retunes counts frequency commands (downlink and uplink).
	Retunes int `json:"retunes"`
	// MaxDopplerErrorHz is the largest |readback − wanted| frequency seen, Hz.
	MaxDopplerErrorHz float64 `json:"max_doppler_error_hz"`
	RotatorErrors     int     `json:"rotator_errors"`
	RadioErrors       int     `json:"radio_errors"`
	// PointingCommands counts the position commands sent between AOS and LOS; PointingAccepted
	// those the rotator accepted. Commands before AOS (pre-positioning) are not counted.
	PointingCommands int `json:"pointing_commands"`
	PointingAccepted int `json:"pointing_accepted"`
	// StopCrossings and Flips describe the plan (see Plan).
	StopCrossings int     `json:"stop_crossings"`
	Flips         int     `json:"flips"`
	PlanAzMinDeg  float64 `json:"plan_az_min_deg"`
	PlanAzMaxDeg  float64 `json:"plan_az_max_deg"`
	// AfterLOS is what was done after LOS; AfterLOSError says why it failed, if it did.
	AfterLOS      string `json:"after_los"`
	AfterLOSError string `json:"after_los_error,omitempty"`
}

// RotatorNeverAccepted says the rotator refused (or never answered) every position command
// sent between AOS and LOS: the antenna did not follow the spacecraft at all, whatever else
// worked. A pass where it accepted at least one is a partial fault at worst.
func (s Summary) RotatorNeverAccepted() bool {
	return s.PointingCommands > 0 && s.PointingAccepted == 0
}

// Faults counts the failed rotator and radio calls of the pass.
func (s Summary) Faults() int { return s.RotatorErrors + s.RadioErrors }

// ErrPassOver is returned by Track for a pass whose LOS has passed.
var ErrPassOver = errors.New("tracker: the pass is over")

// Track tracks p: pre-positions at the rise point, follows the spacecraft from AOS to LOS,
// then parks as p.Rotator says. It returns early with ctx's error when ctx ends (the
// observation was cancelled or the runner stops); the rotator is then stopped or parked as
// after LOS, under a short timeout of its own.
func (t *Tracker) Track(ctx context.Context, p Pass) (Summary, error) {
	if !t.busy.TryLock() {
		return Summary{}, ErrBusy
	}
	defer t.busy.Unlock()
	if err := validatePass(p); err != nil {
		return Summary{}, err
	}
	if !t.clk.Now().Before(p.LOS) {
		return Summary{}, ErrPassOver
	}
	r, err := t.newRun(ctx, p)
	if err != nil {
		return Summary{}, err
	}
	defer t.updateState(func(s *api.TrackingState) { *s = api.TrackingState{State: StateIdle} })
	err = r.loops(ctx)
	r.afterLOS(ctx)
	r.finish()
	return r.sum, err
}

func validatePass(p Pass) error {
	switch {
	case p.Target == nil:
		return errors.New("tracker: pass has no target")
	case !p.LOS.After(p.AOS):
		return fmt.Errorf("tracker: pass LOS %s is not after AOS %s", p.LOS.Format(time.RFC3339), p.AOS.Format(time.RFC3339))
	}
	return nil
}

// run is the state of one Track call.
type run struct {
	t        *Tracker
	p        Pass
	plan     Plan
	log      *zap.Logger
	tuners   []*tuner
	sum      Summary
	aosSent  bool
	slew     rotator.SlewRate
	cmd      *PlanPoint // the last position commanded; T is when the spacecraft is there
	cmdLead  float64    // how far beyond half a threshold cmd was aimed for the lag, degrees
	reported *PlanPoint // the last position read back; T is when it was read
	// pointing and commanded are the readback and commanded errors of the tracked ticks.
	pointing, commanded []float64
	// dopplerOverruns is counted apart from sum.Overruns because the Doppler loop runs in its
	// own goroutine; finish adds them up.
	dopplerOverruns int
	lookErrors      atomic.Int64
}

// lookErrors are logged the first time and then every 120th (a minute of ticks): an element
// set that stopped propagating (a decayed orbit) fails every tick, and one line says it all.
func (r *run) lookError(what string, err error) {
	if n := r.lookErrors.Add(1); n == 1 || n%120 == 0 {
		r.log.Error(what, zap.Error(err), zap.Int64("errors_so_far", n))
	}
}

func (t *Tracker) newRun(ctx context.Context, p Pass) (*run, error) {
	r := &run{t: t, p: p, log: t.log.With(zap.String("observation_id", p.ObservationID), zap.Int("norad_id", p.NoradID)),
		slew: t.rot.SlewRate()}
	if err := r.slew.Validate(); err != nil {
		return nil, fmt.Errorf("tracker: rotator %w", err)
	}
	r.sum.ObservationID = p.ObservationID
	if err := r.makePlan(ctx); err != nil {
		return nil, err
	}
	r.tuners = t.tunersFor(p.Transmitter)
	t.updateState(func(s *api.TrackingState) {
		*s = api.TrackingState{State: StatePreparing, ObservationID: p.ObservationID, NoradID: p.NoradID}
	})
	return r, nil
}

// makePlan samples the whole pass and plans the rotator path, anchored at the rotator's
// current position so a restart mid-pass keeps the wrap the rotator is in.
func (r *run) makePlan(ctx context.Context) error {
	track, err := SampleTrack(r.p.Target, r.p.AOS, r.p.LOS, r.t.cfg.PlanStep)
	if err != nil {
		return fmt.Errorf("tracker: plan pass: %w", err)
	}
	var anchor *Anchor
	if az, _, err := r.position(ctx); err == nil {
		at := r.p.AOS
		if now := r.t.clk.Now(); now.After(at) {
			at = now
		}
		anchor = &Anchor{T: at, AzDeg: az}
	}
	if r.plan, err = PlanPass(track, r.t.rot.Limits(), anchor); err != nil {
		return fmt.Errorf("tracker: plan pass: %w", err)
	}
	r.sum.StopCrossings, r.sum.Flips = r.plan.StopCrossings, r.plan.Flips
	r.sum.PlanAzMinDeg, r.sum.PlanAzMaxDeg = r.plan.AzRange()
	if r.plan.StopCrossings > 0 {
		r.log.Warn("no path avoids the rotator's stop: it will unwind during the pass",
			zap.Int("stop_crossings", r.plan.StopCrossings), zap.Any("limits", r.plan.Limits))
	}
	return nil
}

func (t *Tracker) tunersFor(tx api.ObservationTransmitter) []*tuner {
	var out []*tuner
	if t.downlink != nil && tx.DownlinkHz > 0 {
		out = append(out, &tuner{radio: t.downlink, baseHz: tx.DownlinkHz, deadband: t.cfg.DeadbandHz})
	}
	if t.uplink != nil && tx.UplinkHz > 0 {
		out = append(out, &tuner{radio: t.uplink, baseHz: tx.UplinkHz, uplink: true, deadband: t.cfg.DeadbandHz})
	}
	return out
}

// loops runs the pointing loop and the Doppler loop until LOS. The Doppler loop ends when the
// pointing loop does.
func (r *run) loops(ctx context.Context) error {
	r.setMode(ctx)
	g, gctx := errgroup.WithContext(ctx)
	dctx, stopDoppler := context.WithCancel(gctx)
	start := r.t.clk.Now()
	g.Go(func() error {
		defer stopDoppler()
		return schedule{clk: r.t.clk, period: r.t.cfg.Period}.run(gctx, start, func(tk tick) bool { return r.pointTick(gctx, tk) })
	})
	if len(r.tuners) > 0 {
		g.Go(func() error {
			err := schedule{clk: r.t.clk, period: r.t.cfg.DopplerPeriod}.run(dctx, start, func(tk tick) bool { return r.dopplerTick(dctx, tk) })
			if dctx.Err() != nil && ctx.Err() == nil {
				return nil // stopped because the pass ended
			}
			return err
		})
	}
	return g.Wait()
}

// pointTick is one pointing tick. It returns true at LOS.
func (r *run) pointTick(ctx context.Context, tk tick) bool {
	r.recordTick(tk, "pointing")
	if !tk.Now.Before(r.p.LOS) {
		r.emit(tk.Now, api.EventLOS, "LOS")
		return true
	}
	if tk.Now.Before(r.p.AOS) {
		r.moveTo(ctx, r.plan.Start(), r.t.cfg.EdgeThresholdDeg, false)
		r.readback(ctx)
		return false
	}
	if !r.aosSent {
		r.aosSent = true
		r.t.updateState(func(s *api.TrackingState) { s.State = StateTracking })
		r.emit(tk.Now, api.EventAOS, "AOS")
	}
	now, err := r.p.Target.Look(tk.Now)
	if err != nil {
		r.lookError("look angles", err)
		return false
	}
	r.sum.TrackedTicks++
	r.readback(ctx)
	want, lead, move, err := r.aim(tk.Now, r.threshold(tk.Now))
	if err != nil {
		r.lookError("look angles ahead", err)
		return false
	}
	if move && r.moveTo(ctx, want, 0, true) {
		r.cmdLead = lead
	}
	r.commandedError(now)
	return false
}

// aimEl raises an elevation to the observation's minimum elevation: below it the antenna
// points at the minimum in the spacecraft's azimuth.
func (r *run) aimEl(el float64) float64 { return math.Max(el, r.p.Rotator.MinElevationDeg) }

// threshold is the pointing change worth a move: the pass's threshold, or the fine edge
// threshold near AOS and LOS, where a low antenna matters most.
func (r *run) threshold(now time.Time) float64 {
	edge := r.t.cfg.EdgeWindow
	if now.Sub(r.p.AOS) < edge || r.p.LOS.Sub(now) < edge {
		return r.t.cfg.EdgeThresholdDeg
	}
	return r.p.Rotator.Threshold()
}

// moveTo commands pt unless the last command is within thresholdDeg of it, and reports
// whether the rotator accepted a new command. inPass says the command is between AOS and LOS
// (counted apart, see Summary.RotatorNeverAccepted).
func (r *run) moveTo(ctx context.Context, pt PlanPoint, thresholdDeg float64, inPass bool) bool {
	if r.cmd != nil && rotatorDistance(*r.cmd, pt) <= thresholdDeg {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, r.t.cfg.DeviceTimeout)
	defer cancel()
	if inPass {
		r.sum.PointingCommands++
	}
	if err := r.t.rot.SetPosition(ctx, pt.AzDeg, pt.ElDeg); err != nil {
		r.deviceError("rotator", "set position", err)
		r.cmd = nil // resend at the next tick whatever the threshold
		return false
	}
	if inPass {
		r.sum.PointingAccepted++
	}
	r.cmd = &pt
	r.sum.Moves++
	r.t.met.moves.Inc()
	r.t.updateState(func(s *api.TrackingState) { s.AzimuthDeg, s.ElevationDeg = pt.AzDeg, pt.ElDeg })
	return true
}

// rotatorDistance compares two rotator positions axis by axis, in the rotator's own
// coordinates (a move from 359° to 361° on an overlap rotator is 2°, from 359° to 1° is 358°).
func rotatorDistance(a, b PlanPoint) float64 {
	return math.Max(math.Abs(a.AzDeg-b.AzDeg), math.Abs(a.ElDeg-b.ElDeg))
}

// skyError is the angle between where the rotator position pt points and the spacecraft
// (raised to the minimum elevation), degrees.
func (r *run) skyError(pt PlanPoint, look Look) float64 {
	az, el := ToSky(pt.AzDeg, pt.ElDeg)
	return Separation(az, el, look.AzDeg, r.aimEl(look.ElDeg))
}

// commandedError records the error of the position in force after this tick's decision
// against the spacecraft now (look): what the antenna would have if it were where it was told
// to be.
func (r *run) commandedError(look Look) {
	if r.cmd == nil {
		return
	}
	e := r.skyError(*r.cmd, look)
	r.commanded = append(r.commanded, e)
	r.t.met.commandedError.Set(e)
}

// readback reads the rotator's position and, when the reply comes between AOS and LOS,
// records the antenna's pointing error: the position read against the spacecraft at the
// moment the reply came.
func (r *run) readback(ctx context.Context) {
	az, el, err := r.position(ctx)
	at := r.t.clk.Now()
	if err != nil {
		r.deviceError("rotator", "read position", err)
		r.reported = nil
		return
	}
	r.reported = &PlanPoint{T: at, AzDeg: az, ElDeg: el}
	if at.Before(r.p.AOS) || !at.Before(r.p.LOS) {
		return
	}
	look, err := r.p.Target.Look(at)
	if err != nil {
		r.lookError("look angles at readback", err)
		return
	}
	e := r.skyError(*r.reported, look)
	r.pointing = append(r.pointing, e)
	r.t.met.pointingError.Set(e)
	r.t.updateState(func(s *api.TrackingState) { s.PointingErrorDeg = e })
}

func (r *run) position(ctx context.Context) (az, el float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.t.cfg.DeviceTimeout)
	defer cancel()
	return r.t.rot.Position(ctx)
}

// dopplerTick retunes the radios for the range rate now (held at the AOS value before AOS).
// It never ends the loop itself: the pointing loop's end stops it, so both loops see LOS alike.
func (r *run) dopplerTick(ctx context.Context, tk tick) bool {
	r.recordTick(tk, "doppler")
	at := tk.Now
	if at.Before(r.p.AOS) {
		at = r.p.AOS
	}
	if at.After(r.p.LOS) {
		at = r.p.LOS // the pointing loop ends the pass; until then hold the LOS frequency
	}
	look, err := r.p.Target.Look(at)
	if err != nil {
		r.lookError("range rate", err)
		return false
	}
	for _, u := range r.tuners {
		r.retune(ctx, u, look.RangeRateKmS)
	}
	return false
}

func (r *run) retune(ctx context.Context, u *tuner, rrKmS float64) {
	link := "downlink"
	if u.uplink {
		link = "uplink"
	}
	cctx, cancel := context.WithTimeout(ctx, r.t.cfg.DeviceTimeout)
	defer cancel()
	retuned, err := u.update(cctx, rrKmS)
	if err != nil && ctx.Err() == nil { // a call cut short by LOS is not the radio's fault
		r.deviceError("radio", link, err)
	}
	if !retuned {
		return
	}
	r.t.met.retunes.WithLabelValues(link).Inc()
	r.t.met.dopplerError.WithLabelValues(link).Set(u.errorHz)
	if !u.uplink {
		r.t.updateState(func(s *api.TrackingState) { s.DownlinkHz = u.lastHz })
	}
}

// setMode sets each radio's mode and passband from the transmitter, once per pass.
func (r *run) setMode(ctx context.Context) {
	if r.p.Transmitter.Mode == "" {
		return
	}
	for _, u := range r.tuners {
		cctx, cancel := context.WithTimeout(ctx, r.t.cfg.DeviceTimeout)
		err := u.radio.SetMode(cctx, r.p.Transmitter.Mode, r.p.Transmitter.PassbandHz)
		cancel()
		if err != nil {
			r.deviceError("radio", "set mode", err)
		}
	}
}

func (r *run) recordTick(tk tick, loop string) {
	r.t.met.lateness.WithLabelValues(loop).Observe(tk.Late.Seconds())
	if tk.Skipped > 0 {
		if loop == "pointing" {
			r.sum.Overruns++
		} else {
			r.dopplerOverruns++
		}
		r.t.met.overruns.WithLabelValues(loop).Inc()
		r.log.Warn("tick overrun: skipped missed ticks", zap.String("loop", loop), zap.Int("skipped", tk.Skipped), zap.Time("due", tk.Due))
	}
	if loop == "pointing" {
		r.sum.Ticks++
		r.sum.MaxLatenessMs = math.Max(r.sum.MaxLatenessMs, float64(tk.Late)/1e6)
	}
}

func (r *run) deviceError(device, what string, err error) {
	if device == "rotator" {
		r.sum.RotatorErrors++
	} else {
		r.sum.RadioErrors++
	}
	r.t.met.deviceErrors.WithLabelValues(device).Inc()
	r.log.Warn(device+" call failed", zap.String("call", what), zap.Error(err))
}

// afterLOS parks, moves or leaves the rotator as the pass's settings say. It runs also when
// the pass was cancelled, so it uses a context of its own.
func (r *run) afterLOS(ctx context.Context) {
	mode := r.p.Rotator.AfterLOS
	if mode == "" {
		mode = api.AfterLOSPark
	}
	r.sum.AfterLOS = mode
	if mode == api.AfterLOSStay {
		return
	}
	r.t.updateState(func(s *api.TrackingState) { s.State = StateParking })
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.t.cfg.DeviceTimeout)
	defer cancel()
	var err error
	if mode == api.AfterLOSPosition && r.p.Rotator.ParkAzDeg != nil && r.p.Rotator.ParkElDeg != nil {
		err = r.t.rot.SetPosition(pctx, *r.p.Rotator.ParkAzDeg, *r.p.Rotator.ParkElDeg)
	} else {
		err = r.t.rot.Park(pctx)
	}
	if err != nil {
		r.sum.AfterLOSError = err.Error()
		r.deviceError("rotator", "after LOS "+mode, err)
	}
}

func (r *run) finish() {
	r.sum.Overruns += r.dopplerOverruns
	for _, u := range r.tuners {
		r.sum.Retunes += u.retunes
		r.sum.MaxDopplerErrorHz = math.Max(r.sum.MaxDopplerErrorHz, u.maxError)
	}
	r.sum.MeanPointingErrorDeg, r.sum.P95PointingErrorDeg, r.sum.MaxPointingErrorDeg = errorStats(r.pointing)
	r.sum.MeanCommandedErrorDeg, r.sum.P95CommandedErrorDeg, r.sum.MaxCommandedErrorDeg = errorStats(r.commanded)
}

// passEventData is the data of observation.aos and observation.los.
type passEventData struct {
	ObservationID string  `json:"observation_id"`
	NoradID       int     `json:"norad_id"`
	AzimuthDeg    float64 `json:"azimuth_deg"`
	ElevationDeg  float64 `json:"elevation_deg"`
}

func (r *run) emit(now time.Time, typ, msg string) {
	d := passEventData{ObservationID: r.p.ObservationID, NoradID: r.p.NoradID}
	if l, err := r.p.Target.Look(now); err == nil {
		d.AzimuthDeg, d.ElevationDeg = l.AzDeg, l.ElDeg
	}
	r.t.em.Emit(events.New(now, typ, api.SeverityInfo, fmt.Sprintf("%s of NORAD %d", msg, r.p.NoradID), d))
}

// errorStats returns the mean, the 95th percentile (nearest rank) and the maximum of v
// (degrees); zeros for none.
func errorStats(v []float64) (mean, p95, maxV float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	var sum float64
	for _, e := range s {
		sum += e
	}
	return sum / float64(len(s)), s[int(math.Ceil(0.95*float64(len(s))))-1], s[len(s)-1]
}
