package tracker

import (
	"math"
	"time"
)

// Aiming (decision 0086). A rotator held still while the spacecraft moves has an error that
// grows with time; the tracker moves it only when that error is worth a move (the threshold
// th). Pointing at the spacecraft and waiting until it is th away makes the error saw-tooth
// from 0 to th, one-sided. Instead each move aims half a threshold ahead along the track,
// where the spacecraft will be about halfway to the next move, so the error swings from −th/2
// (just sent: the spacecraft has yet to reach the aim point) through 0 to +th/2 (the next move
// is due): half the worst error for the same number of moves.
//
// Rotators are not instant. Between deciding a move and the antenna being at the new aim point
// lies a lag: the command latency plus the time the rotator takes to turn there at its slew
// rate, axis by axis. The next move is decided one lag early, at the last tick before the
// spacecraft would pass the current aim point by more than th/2 at the time the next move
// could arrive. So the commanded position's error stays within [−th/2, +th/2 − rate·lag] and
// the antenna's within [−(th/2 − rate·lag), +th/2]: both within th/2. The cost is a step of
// th − rate·lag between moves instead of th; where the rotator is so slow that rate·lag would
// pass th/2, the lag counted is capped there (the antenna then falls behind, which no aim
// point can prevent, and the readback error shows it).
//
// The angular rate is not constant: it peaks at TCA and the azimuth rate of a high pass
// even more so. Aim points are therefore found along the pass plan (which knows the whole
// pass) and refined on the target itself, never by extrapolating the current rate, and never
// past LOS.

// ideal is the rotator position that points at the spacecraft at t (clamped to LOS), raised to
// the observation's minimum elevation and mapped onto the plan.
func (r *run) ideal(t time.Time) (PlanPoint, error) {
	if t.After(r.p.LOS) {
		t = r.p.LOS
	}
	l, err := r.p.Target.Look(t)
	if err != nil {
		return PlanPoint{}, err
	}
	return r.plan.Map(t, l.AzDeg, r.aimEl(l.ElDeg)), nil
}

// pointingDistance is the angle between where two rotator positions point, degrees: along the
// plane for two plane-mode points (their angle off the plane is the plan's choice, not the
// aim's), else the great-circle angle between their sky directions.
func pointingDistance(a, b PlanPoint) float64 {
	if a.Plane && b.Plane && a.AzDeg == b.AzDeg {
		return math.Abs(a.ElDeg - b.ElDeg)
	}
	az1, el1 := ToSky(a.AzDeg, a.ElDeg)
	az2, el2 := ToSky(b.AzDeg, b.ElDeg)
	return Separation(az1, el1, az2, el2)
}

// aimBisections refine the aim instant between two plan points (1 s apart by default) to
// under a millisecond.
const aimBisections = 12

// aheadOf returns the position the spacecraft reaches deg further along its track than at
// from (where it is then: the ideal position here); its T is the instant it gets there. The
// plan's points bracket the instant; bisection on the target refines it. It stops at LOS.
func (r *run) aheadOf(from time.Time, here PlanPoint, deg float64) (PlanPoint, error) {
	pts := r.plan.Points
	lo := from
	i := nearestIndex(len(pts), func(i int) time.Time { return pts[i].T }, from)
	for ; i < len(pts); i++ {
		if !pts[i].T.After(from) {
			continue
		}
		if pointingDistance(here, pts[i]) > deg {
			break
		}
		lo = pts[i].T
	}
	hi := r.p.LOS
	if i < len(pts) {
		hi = pts[i].T
	}
	best, err := r.ideal(hi)
	if err != nil {
		return PlanPoint{}, err
	}
	if pointingDistance(here, best) <= deg {
		return best, nil // the pass ends first
	}
	for range aimBisections {
		mid := lo.Add(hi.Sub(lo) / 2)
		p, err := r.ideal(mid)
		if err != nil {
			return PlanPoint{}, err
		}
		if pointingDistance(here, p) > deg {
			hi, best = mid, p
		} else {
			lo = mid
		}
	}
	return best, nil
}

// lagLeadShare caps the lead given for the lag, as a share of the threshold: the commanded
// position is then never more than (0.5 + lagLeadShare) × th from the spacecraft, 0.55 × th.
const lagLeadShare = 0.05

// aim is one tracked tick's pointing decision at now: the aim point, the lead given for the
// lag (degrees beyond half the threshold), and whether the rotator must move to it now (no
// command holds, or by the next tick the spacecraft will have passed the current aim point by
// more than half the threshold less that command's lead: the step stays one threshold).
func (r *run) aim(now time.Time, th float64) (want PlanPoint, lead float64, move bool, err error) {
	here, err := r.ideal(now)
	if err != nil {
		return PlanPoint{}, 0, false, err
	}
	// The antenna gets to a new aim point one lag from now: lead by the spacecraft's travel
	// meanwhile, up to lagLeadShare of the threshold.
	arrive, err := r.ideal(now.Add(r.lag(here, th/2)))
	if err != nil {
		return PlanPoint{}, 0, false, err
	}
	lead = min(pointingDistance(here, arrive), lagLeadShare*th)
	if want, err = r.aheadOf(now, here, th/2+lead); err != nil {
		return PlanPoint{}, 0, false, err
	}
	if r.cmd == nil {
		return want, lead, true, nil
	}
	next := now.Add(r.t.cfg.Period)
	if !next.After(r.cmd.T) {
		return want, lead, false, nil // the spacecraft has yet to reach the current aim point
	}
	then, err := r.ideal(next)
	if err != nil {
		return PlanPoint{}, 0, false, err
	}
	return want, lead, pointingDistance(*r.cmd, then) > th/2-r.cmdLead, nil
}

// lag is how long after a command the antenna is at its new aim point: the command latency
// plus the rotator's move there at its slew rate, from where it was read back (else from the
// last command) to a point half a threshold (half, degrees) ahead of here; at most MaxLead.
func (r *run) lag(here PlanPoint, half float64) time.Duration {
	from := here
	switch {
	case r.reported != nil:
		from = *r.reported
	case r.cmd != nil:
		from = *r.cmd
	}
	to, err := r.aheadOf(here.T, here, half)
	if err != nil {
		to = here
	}
	return min(r.t.cfg.CommandLatency+r.slew.MoveTime(from.AzDeg, from.ElDeg, to.AzDeg, to.ElDeg), r.t.cfg.MaxLead)
}
