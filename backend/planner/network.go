package planner

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/talos-gs/talos/orbit"
)

const (
	radPerDeg = math.Pi / 180
	// verticalSlackDeg bounds the angle between a station's geodetic up and its geocentric
	// radius (at most 0.1924° on WGS-84), so a cap computed on a sphere never misses a pass.
	verticalSlackDeg = 0.25
	// motionSlack widens the distance the spacecraft may move in half a step, for the change of
	// its speed within the step (the step turns it by 10° at most, decision 0006).
	motionSlack = 1.5
	// gravityBound is the Earth's gravitational parameter with a margin, km³/s²: with the
	// centripetal term it bounds the radial acceleration in the Earth-fixed frame.
	gravityBound = 1.2 * 398600.4418
)

// station is a Station prepared for the search.
type station struct {
	ecef, east, north, up orbit.Vec3
	unit                  orbit.Vec3 // geocentric direction of ecef
	mask                  *orbit.HorizonMask
	minEl                 float64 // degrees, the request's and the station's
	sinMin                float64 // sin(minEl), the threshold on sin(elevation) without a mask
	thrLo, thrHi          float64 // bounds of the threshold over all azimuths, degrees
}

// threshold is the minimum elevation at azimuth az, degrees.
func (s *station) threshold(az float64) float64 {
	if s.mask == nil {
		return s.minEl
	}
	return math.Max(s.minEl, s.mask.MinElevation(az))
}

// network is the prepared request shared read-only by the workers.
type network struct {
	from     time.Time
	end      float64 // window length, s
	stations []station
	// byLat lists the station indices by geocentric latitude (lat, ascending), so the stations
	// that may see a spacecraft are a contiguous range around its sub-satellite latitude.
	byLat []int
	lat   []float64 // radians, in byLat order
	// capElevation is the lowest threshold of any station less the vertical slack, radians, and
	// minRadius the smallest geocentric radius of any station, km: together they give the
	// widest visibility cap any station could have.
	capElevation, minRadius float64
}

func newNetwork(req Request) (*network, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	n := &network{from: req.From.UTC().Round(0), end: req.To.Sub(req.From).Seconds(),
		stations: make([]station, len(req.Stations)), minRadius: math.Inf(1)}
	lowest := math.Inf(1)
	for i, s := range req.Stations {
		st, err := prepareStation(s, req.MinElevationDeg)
		if err != nil {
			return nil, fmt.Errorf("%w: station %d (%s): %w", ErrInvalidRequest, i, s.ID, err)
		}
		n.stations[i] = st
		lowest = math.Min(lowest, st.thrLo)
		n.minRadius = math.Min(n.minRadius, st.ecef.Norm())
	}
	n.capElevation = (lowest - verticalSlackDeg) * radPerDeg
	n.byLat = make([]int, len(n.stations))
	for i := range n.byLat {
		n.byLat[i] = i
	}
	slices.SortFunc(n.byLat, func(a, b int) int {
		return compareFloat(n.stations[a].unit.Z, n.stations[b].unit.Z)
	})
	n.lat = make([]float64, len(n.byLat))
	for j, i := range n.byLat {
		n.lat[j] = math.Asin(n.stations[i].unit.Z)
	}
	return n, nil
}

func prepareStation(s Station, minEl float64) (station, error) {
	var opts []orbit.ObserverOption
	if s.Mask != nil {
		opts = append(opts, orbit.WithHorizonMask(s.Mask))
	}
	o, err := orbit.NewObserver(s.LatDeg, s.LonDeg, s.AltM, opts...)
	if err != nil {
		return station{}, err
	}
	st := station{ecef: o.ECEF(), mask: s.Mask, minEl: math.Max(minEl, s.MinElevationDeg)}
	st.east, st.north, st.up = o.Horizon()
	st.unit = st.ecef.Scale(1 / st.ecef.Norm())
	st.sinMin = math.Sin(st.minEl * radPerDeg)
	st.thrLo, st.thrHi = st.minEl, st.minEl
	if s.Mask != nil {
		lo, hi := s.Mask.Bounds()
		st.thrLo, st.thrHi = math.Max(st.minEl, lo), math.Max(st.minEl, hi)
	}
	return st, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// capAngle is the half-angle (radians, seen from the Earth's centre) of the cone around a
// sample at r (km) moving at v (km/s) outside which no station can see the spacecraft at any
// time within half a step h (s) of the sample. Negative: nobody can. The cap widens with the
// height the spacecraft can reach within the half step (its radial speed, plus what gravity
// and the rotating frame can add to it) and with the angle it can turn.
func (n *network) capAngle(r, v orbit.Vec3, h float64) float64 {
	rn, vn := r.Norm(), v.Norm()
	half := h / 2
	radial := math.Abs(r.Dot(v)) / rn
	rise := radial*half + (gravityBound/(rn*rn)+vn*vn/rn)*half*half
	rMax, rMin := rn+rise, math.Max(rn-rise, 1)
	c := n.minRadius * math.Cos(n.capElevation) / rMax
	if c >= 1 {
		return -1
	}
	return math.Acos(c) - n.capElevation + motionSlack*vn*half/rMin
}

// scratch is one worker's reusable memory.
type scratch struct {
	track    track
	runStart []int // first near sample of each station's open run, −1 if none
	runEnd   []int // last near sample of that run
	search   search
	found    []found // the current spacecraft's passes in the order the scan finds them
}

func newScratch(stations int) *scratch {
	return &scratch{runStart: make([]int, stations), runEnd: make([]int, stations)}
}

// scan finds the passes of the sampled spacecraft sc over every station and appends them to out.
// A station is near at a sample when it lies inside the sample's cap; the passes of a station
// lie within its runs of near samples, widened by one sample either side.
func (n *network) scan(tr *track, s *scratch, out []found) []found {
	for i := range s.runStart {
		s.runStart[i], s.runEnd[i] = -1, -1
	}
	for k := range tr.r {
		r := tr.r[k]
		lam := n.capAngle(r, tr.v[k], tr.h)
		if lam < 0 {
			continue
		}
		u := r.Scale(1 / r.Norm())
		lat := math.Asin(u.Z)
		lo, _ := slices.BinarySearch(n.lat, lat-lam)
		hi, _ := slices.BinarySearch(n.lat, lat+lam)
		cosLam := math.Cos(math.Min(lam, math.Pi))
		for _, i := range n.byLat[lo:hi] {
			if u.Dot(n.stations[i].unit) < cosLam {
				continue
			}
			if s.runEnd[i] == k-1 && s.runStart[i] >= 0 {
				s.runEnd[i] = k
				continue
			}
			if s.runStart[i] >= 0 {
				out = s.search.run(n, tr, i, s.runStart[i], s.runEnd[i], out)
			}
			s.runStart[i], s.runEnd[i] = k, k
		}
	}
	for i, a := range s.runStart {
		if a >= 0 {
			out = s.search.run(n, tr, i, a, s.runEnd[i], out)
		}
	}
	return out
}
