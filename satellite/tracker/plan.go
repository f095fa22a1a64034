package tracker

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/talos-gs/talos/satellite/rotator"
)

// SkyPoint is where a spacecraft is in the sky at one instant, in degrees: azimuth clockwise
// from north in [0, 360), elevation above the horizon.
type SkyPoint struct {
	T     time.Time
	AzDeg float64
	ElDeg float64
}

// PlanPoint is a planned rotator position, in the rotator's own coordinates (degrees): Az may
// lie outside [0, 360) on an overlap rotator, El above 90 in flip mode.
type PlanPoint struct {
	T     time.Time
	AzDeg float64
	ElDeg float64
	// Flip says the point is reached "over the top": rotator azimuth = sky azimuth + 180°,
	// rotator elevation = 180° − sky elevation (or, with Plane, an elevation above 90°). Only
	// 0–180° elevation rotators flip.
	Flip bool
	// Plane says the rotator holds its azimuth (AzDeg, the plane's) and follows the
	// spacecraft's projection on that vertical plane with elevation alone, through the zenith:
	// how a 0–180° elevation rotator crosses an overhead pass without the keyhole swing.
	Plane bool
	// ErrorDeg is the planned pointing error (degrees): 0, except in Plane mode, where it is
	// the spacecraft's angle off the plane.
	ErrorDeg float64
}

// Plan is the rotator path of a whole pass, made before AOS so that the rotator never reaches
// a mechanical stop in the middle of it.
type Plan struct {
	Points []PlanPoint
	Limits rotator.Limits
	// StopCrossings counts the moves of more than 180° in azimuth between neighbouring points:
	// the rotator unwinding through its full range because no path avoided the stop. It is 0
	// whenever the rotator's range (overlap or flip) allows it.
	StopCrossings int
	// Flips counts the points planned in flip mode.
	Flips int
}

// Anchor ties the plan to where the rotator stands: the path's position at time T should be
// near AzDeg (a rotator azimuth, possibly outside 0–360), so that a plan made mid-pass (after a
// restart) keeps the wrap the rotator is in rather than unwinding it.
type Anchor struct {
	T     time.Time
	AzDeg float64
}

// Costs of the path search, in degrees of rotator travel. A mode switch costs a little so the
// planner does not chatter between normal and flip at equal cost; flip mode costs a hair per
// point so a plain pass stays plain.
const (
	switchCostDeg = 1
	flipCostDeg   = 1e-3
	anchorWeight  = 0.5
	azEpsilonDeg  = 1e-6
	// errorWeight prices planned pointing error (plane mode) against travel: a degree of error
	// held for a second costs as much as a degree of rotator travel. A truly overhead pass then
	// goes over the top (a fraction of a degree off for a minute beats a 180° swing), an 83°
	// pass does not (7° off at culmination costs more than the swing).
	errorWeight = 1.0
	// planeMinElDeg is the lowest elevation at which plane mode is considered.
	planeMinElDeg = 60.0
)

// ErrEmptyTrack is returned for a plan asked for no points.
var ErrEmptyTrack = errors.New("plan: the pass has no sky points")

// candidate is one way the rotator can reach a sky point.
type candidate struct {
	t      time.Time
	az, el float64
	flip   bool
	plane  bool
	errDeg float64 // pointing error accepted (plane mode), degrees
	stepS  float64 // seconds this point stands for, weighting errDeg
}

// PlanPass plans the rotator path for a pass sampled as track (in time order) on a rotator with
// limits lim. It is a shortest-path search over every way of reaching each point (each
// azimuth wrap inside the range, normal or flipped), costing the rotator's travel: the result
// never goes the long way round when a short way exists, uses the overlap of a 0–450° rotator,
// and flips a 0–180° elevation rotator over the zenith or across the stop. anchor, when not
// nil, prefers the path near the rotator's current position at anchor.T.
func PlanPass(track []SkyPoint, lim rotator.Limits, anchor *Anchor) (Plan, error) {
	if len(track) == 0 {
		return Plan{}, ErrEmptyTrack
	}
	if err := lim.Validate(); err != nil {
		return Plan{}, fmt.Errorf("plan: %w", err)
	}
	cands := make([][]candidate, len(track))
	planes := overTheTopPlanes(track, lim)
	for i, p := range track {
		if !finite(p.AzDeg) || !finite(p.ElDeg) {
			return Plan{}, fmt.Errorf("plan: sky point %d at %s is not finite (az %v, el %v)", i, p.T.Format(time.RFC3339), p.AzDeg, p.ElDeg)
		}
		cands[i] = append(candidatesFor(p, lim), planeCandidates(p, planes, lim, stepOf(track, i))...)
	}
	path := cheapestPath(cands, anchorIndex(track, anchor), anchor)
	plan := Plan{Points: make([]PlanPoint, 0, len(path)), Limits: lim}
	for i, c := range path {
		plan.Points = append(plan.Points, PlanPoint{T: c.t, AzDeg: c.az, ElDeg: c.el, Flip: c.flip, Plane: c.plane, ErrorDeg: c.errDeg})
		if c.flip {
			plan.Flips++
		}
		if i > 0 && math.Abs(c.az-path[i-1].az) > 180+azEpsilonDeg {
			plan.StopCrossings++
		}
	}
	return plan, nil
}

// candidatesFor lists every rotator position reaching p: each azimuth wrap inside the limits,
// normal and (on a flip rotator) flipped. If no wrap fits (a range under 360°), the azimuth is
// clamped to the nearer limit: the best the rotator can do.
func candidatesFor(p SkyPoint, lim rotator.Limits) []candidate {
	modes := []bool{false}
	if canFlip(lim) {
		modes = append(modes, true)
	}
	var out []candidate
	for _, flip := range modes {
		az, el := toRotator(p.AzDeg, p.ElDeg, flip, lim)
		wraps := wrapsInside(az, lim)
		if len(wraps) == 0 {
			wraps = []float64{clamp(az, lim.MinAz, lim.MaxAz)}
		}
		for _, w := range wraps {
			out = append(out, candidate{t: p.T, az: w, el: el, flip: flip})
		}
	}
	return out
}

// canFlip reports whether the rotator's elevation reaches over the zenith to the far horizon.
func canFlip(lim rotator.Limits) bool { return lim.MaxEl >= 179.5 }

// toRotator converts a sky position to the rotator's coordinates in one mode, with the azimuth
// in [0, 360) and the elevation clamped to the limits.
func toRotator(azDeg, elDeg float64, flip bool, lim rotator.Limits) (az, el float64) {
	az, el = azDeg, elDeg
	if flip {
		az, el = azDeg+180, 180-elDeg
	}
	return norm360(az), clamp(el, lim.MinEl, lim.MaxEl)
}

// wrapsInside returns every az + k·360 inside the limits, in increasing order.
func wrapsInside(az float64, lim rotator.Limits) []float64 {
	var out []float64
	for k := -2; k <= 2; k++ {
		w := az + float64(k)*360
		if w >= lim.MinAz-azEpsilonDeg && w <= lim.MaxAz+azEpsilonDeg {
			out = append(out, clamp(w, lim.MinAz, lim.MaxAz))
		}
	}
	return out
}

// cheapestPath is a Viterbi search: cost[i][j] is the least travel to reach candidate j of
// point i. Each point has at most 6 candidates, so a 15-minute pass at 1 s steps costs about
// 30,000 edge evaluations.
func cheapestPath(cands [][]candidate, anchorIdx int, anchor *Anchor) []candidate {
	cost := make([][]float64, len(cands))
	from := make([][]int, len(cands))
	for i := range cands {
		cost[i] = make([]float64, len(cands[i]))
		from[i] = make([]int, len(cands[i]))
		for j, c := range cands[i] {
			cost[i][j] = modeCost(c) + anchorCost(i, anchorIdx, anchor, c)
			if i == 0 {
				continue
			}
			best, bestK := math.Inf(1), 0
			for k, p := range cands[i-1] {
				if v := cost[i-1][k] + moveCost(p, c); v < best {
					best, bestK = v, k
				}
			}
			cost[i][j] += best
			from[i][j] = bestK
		}
	}
	last := len(cands) - 1
	j := argmin(cost[last])
	path := make([]candidate, len(cands))
	for i := last; i >= 0; i-- {
		path[i] = cands[i][j]
		j = from[i][j]
	}
	return path
}

func modeCost(c candidate) float64 {
	cost := errorWeight * c.errDeg * c.stepS
	if c.flip {
		cost += flipCostDeg
	}
	return cost
}

func anchorCost(i, anchorIdx int, anchor *Anchor, c candidate) float64 {
	if anchor == nil || i != anchorIdx {
		return 0
	}
	return anchorWeight * math.Abs(c.az-anchor.AzDeg)
}

// moveCost is the rotator's travel between two positions, degrees (both axes move at once,
// but a controller serves them in turn on cheap rotators, so the sum is the honest figure).
func moveCost(a, b candidate) float64 {
	c := math.Abs(b.az-a.az) + math.Abs(b.el-a.el)
	if a.flip != b.flip || a.plane != b.plane {
		c += switchCostDeg
	}
	return c
}

// anchorIndex returns the index of the track point nearest anchor.T (0 without an anchor).
func anchorIndex(track []SkyPoint, anchor *Anchor) int {
	if anchor == nil {
		return 0
	}
	return nearestIndex(len(track), func(i int) time.Time { return track[i].T }, anchor.T)
}

// nearestIndex returns the index in [0, n) whose time (at(i), increasing) is nearest t.
func nearestIndex(n int, at func(int) time.Time, t time.Time) int {
	i := sort.Search(n, func(i int) bool { return !at(i).Before(t) })
	switch {
	case i == 0:
		return 0
	case i == n:
		return n - 1
	case t.Sub(at(i-1)) <= at(i).Sub(t):
		return i - 1
	}
	return i
}

func argmin(v []float64) int {
	best := 0
	for i := range v {
		if v[i] < v[best] {
			best = i
		}
	}
	return best
}

// Start returns the pre-position point: the rotator position of the first plan point,
// lowered to the horizon (elevation 0, or 180 in flip mode), clamped to the limits.
func (p Plan) Start() PlanPoint {
	s := p.Points[0]
	if s.Flip {
		s.ElDeg = clamp(180, p.Limits.MinEl, p.Limits.MaxEl)
	} else {
		s.ElDeg = clamp(0, p.Limits.MinEl, p.Limits.MaxEl)
	}
	return s
}

// Map converts the sky position (azDeg, elDeg) at t into rotator coordinates along the plan:
// the mode of the planned point nearest t, and the azimuth wrap nearest the planned azimuth.
// It is how the live loop follows the plan with fresh look angles.
func (p Plan) Map(t time.Time, azDeg, elDeg float64) PlanPoint {
	ref := p.Points[nearestIndex(len(p.Points), func(i int) time.Time { return p.Points[i].T }, t)]
	if ref.Plane {
		el, errDeg := onPlane(azDeg, elDeg, ref.AzDeg)
		el = clamp(el, p.Limits.MinEl, p.Limits.MaxEl)
		return PlanPoint{T: t, AzDeg: ref.AzDeg, ElDeg: el, Flip: el > 90, Plane: true, ErrorDeg: errDeg}
	}
	az, el := toRotator(azDeg, elDeg, ref.Flip, p.Limits)
	best := clamp(az, p.Limits.MinAz, p.Limits.MaxAz)
	for _, w := range wrapsInside(az, p.Limits) {
		if math.Abs(w-ref.AzDeg) < math.Abs(best-ref.AzDeg) {
			best = w
		}
	}
	return PlanPoint{T: t, AzDeg: best, ElDeg: el, Flip: ref.Flip}
}

// AzRange returns the smallest and largest planned azimuth, degrees.
func (p Plan) AzRange() (minAz, maxAz float64) {
	minAz, maxAz = math.Inf(1), math.Inf(-1)
	for _, pt := range p.Points {
		minAz, maxAz = math.Min(minAz, pt.AzDeg), math.Max(maxAz, pt.AzDeg)
	}
	return minAz, maxAz
}

// ToSky converts a rotator position (degrees) back to the sky: an elevation above 90° is a
// flipped position.
func ToSky(azDeg, elDeg float64) (skyAz, skyEl float64) {
	if elDeg > 90 {
		return norm360(azDeg + 180), 180 - elDeg
	}
	return norm360(azDeg), elDeg
}

// Separation is the great-circle angle between two sky directions, degrees. It uses the
// Vincenty form, which stays accurate for tiny and near-opposite angles where acos does not.
func Separation(az1, el1, az2, el2 float64) float64 {
	const rad = math.Pi / 180
	e1, e2, da := el1*rad, el2*rad, (az2-az1)*rad
	x := math.Cos(e2) * math.Sin(da)
	y := math.Cos(e1)*math.Sin(e2) - math.Sin(e1)*math.Cos(e2)*math.Cos(da)
	z := math.Sin(e1)*math.Sin(e2) + math.Cos(e1)*math.Cos(e2)*math.Cos(da)
	return math.Atan2(math.Hypot(x, y), z) / rad
}

func norm360(a float64) float64 {
	a = math.Mod(a, 360)
	if a < 0 {
		a += 360
	}
	return a
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// overTheTopPlanes returns the azimuths of the vertical planes a flip rotator may hold through
// the zenith: the rise azimuth and the opposite of the set azimuth, which coincide for a pass
// straight overhead. None for a rotator that cannot flip.
func overTheTopPlanes(track []SkyPoint, lim rotator.Limits) []float64 {
	if !canFlip(lim) || len(track) < 2 {
		return nil
	}
	rise, set := norm360(track[0].AzDeg), norm360(track[len(track)-1].AzDeg+180)
	if math.Abs(math.Remainder(rise-set, 360)) < 0.5 {
		return []float64{rise}
	}
	return []float64{rise, set}
}

// planeCandidates are the plane-mode positions of a high sky point: hold each plane's azimuth
// (every wrap inside the limits) and point at the spacecraft's projection on the plane.
func planeCandidates(p SkyPoint, planes []float64, lim rotator.Limits, stepS float64) []candidate {
	if p.ElDeg < planeMinElDeg {
		return nil
	}
	var out []candidate
	for _, a := range planes {
		el, errDeg := onPlane(p.AzDeg, p.ElDeg, a)
		el = clamp(el, lim.MinEl, lim.MaxEl)
		for _, w := range wrapsInside(a, lim) {
			out = append(out, candidate{t: p.T, az: w, el: el, flip: el > 90, plane: true, errDeg: errDeg, stepS: stepS})
		}
	}
	return out
}

// onPlane projects the sky direction (azDeg, elDeg) on the vertical plane of azimuth planeAz:
// the elevation along the plane, 0 at the horizon towards planeAz through 90 at the zenith to
// 180 at the opposite horizon, and the angle between the direction and the plane (degrees).
func onPlane(azDeg, elDeg, planeAz float64) (el, errDeg float64) {
	const rad = math.Pi / 180
	h, u := math.Cos(elDeg*rad), math.Sin(elDeg*rad)
	along, across := h*math.Cos((azDeg-planeAz)*rad), h*math.Sin((azDeg-planeAz)*rad)
	return math.Atan2(u, along) / rad, math.Asin(clamp(math.Abs(across), 0, 1)) / rad
}

// stepOf is the time (seconds) sky point i stands for: half the gaps to its neighbours.
func stepOf(track []SkyPoint, i int) float64 {
	lo, hi := max(i-1, 0), min(i+1, len(track)-1)
	if hi == lo {
		return 1
	}
	return track[hi].T.Sub(track[lo].T).Seconds() / float64(hi-lo)
}
