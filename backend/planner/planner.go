// Package planner finds the passes of many spacecraft over many stations at once: the network
// pass planner behind `talos-backend plan` and GET /api/teams/{team}/passes.
//
// It gives the same passes as orbit.FindPasses run for every pair (AOS and LOS within 1 s, the
// maximum elevation within 0.05°, none missed), but shares the work a per-pair search repeats:
// each spacecraft is propagated once per coarse step into Earth-fixed coordinates, and every
// station reads those samples. A cheap geometric test (the spacecraft's visibility cap, widened
// by how far it can move in half a step) decides which stations could see it near each sample;
// only those pairs are searched, by root-finding on a cubic Hermite interpolation of the shared
// samples. See docs/decisions/0085-network-pass-planner.md.
//
// Elevations are geometric (no refraction). The planner knows no HTTP and no store: callers
// hand it element sets and station positions.
package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
)

// MaxWindow is the longest window one plan may cover.
const MaxWindow = 14 * 24 * time.Hour

// ErrInvalidRequest is wrapped by every error about a Request.
var ErrInvalidRequest = errors.New("invalid plan request")

// Spacecraft is one object to plan for.
type Spacecraft struct {
	// NORAD is the catalog number, reported with each pass.
	NORAD int
	// Name is the object name; may be empty.
	Name string
	// Elements is the element set to propagate. Required.
	Elements *orbit.ElementSet
}

// Station is one ground station to plan for.
type Station struct {
	// ID names the station in the output (a satellite id in the backend).
	ID string
	// LatDeg and LonDeg are the geodetic latitude and longitude, degrees (north and east
	// positive); AltM is the height above the WGS-84 ellipsoid, metres.
	LatDeg, LonDeg, AltM float64
	// Mask is the station's horizon mask, or nil for a flat horizon.
	Mask *orbit.HorizonMask
	// MinElevationDeg is the station's own minimum elevation, degrees; the higher of it and the
	// request's applies.
	MinElevationDeg float64
}

// Request is one planning job: every pass of every spacecraft over every station in [From, To).
type Request struct {
	Spacecraft []Spacecraft
	Stations   []Station
	// From and To bound the window; To must be after From, at most MaxWindow later.
	From, To time.Time
	// MinElevationDeg is the lowest elevation that counts as visible, degrees in [−90, 90).
	MinElevationDeg float64
	// Workers is how many goroutines search in parallel; 0 means GOMAXPROCS.
	Workers int
}

// Pass is one interval in which a spacecraft is above a station's mask and minimum elevation,
// clipped to the window. Its fields mean what orbit.Pass's do.
type Pass struct {
	// Station and Spacecraft index the request's slices.
	Station, Spacecraft int
	// AOS, TCA and LOS are UTC instants; AOS is the window start if InProgressAtStart, LOS the
	// window end if InProgressAtEnd.
	AOS, TCA, LOS time.Time
	// MaxElevationDeg is the geometric elevation at TCA, degrees.
	MaxElevationDeg float64
	// AOSAzimuthDeg and LOSAzimuthDeg are the azimuths at AOS and LOS, degrees from north.
	AOSAzimuthDeg, LOSAzimuthDeg float64
	// InProgressAtStart and InProgressAtEnd say the pass is cut by the window; AlwaysVisible
	// says both (a geostationary spacecraft above the mask, for one).
	InProgressAtStart, InProgressAtEnd, AlwaysVisible bool
}

// SpacecraftError reports a spacecraft whose propagation failed (it decayed, say): its passes
// up to the failure are kept, none after.
type SpacecraftError struct {
	// Spacecraft indexes the request's slice.
	Spacecraft int
	// At is the first instant that could not be propagated.
	At  time.Time
	Err error
}

func (e SpacecraftError) Error() string {
	return fmt.Sprintf("spacecraft %d: propagate to %s: %v", e.Spacecraft, e.At.Format(time.RFC3339), e.Err)
}

// Result is what Plan found.
type Result struct {
	// Passes is ordered by spacecraft (the request's order), then station, then AOS.
	Passes []Pass
	// Errors lists the spacecraft that could not be propagated over the whole window.
	Errors []SpacecraftError
}

// Plan returns every pass of req's spacecraft over req's stations in its window. It fails only
// on an invalid request or a cancelled context; a spacecraft that cannot be propagated is
// reported in Result.Errors and the rest are planned.
func Plan(ctx context.Context, req Request) (*Result, error) {
	net, err := newNetwork(req)
	if err != nil {
		return nil, err
	}
	workers := req.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(1, len(req.Spacecraft)))
	parts := make([]workerOutput, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = net.work(ctx, req, &next)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return net.merge(parts, len(req.Spacecraft), workers), nil
}

// found is a pass as the search finds it: times in seconds from the window start and no
// pointers, so a worker's passes cost the garbage collector nothing and copy at half the size
// of a Pass. merge turns them into Passes once, in place.
type found struct {
	station             int32
	flags               uint8
	aos, tca, los       float64
	maxEl, aosAz, losAz float64
}

const (
	flagAtStart uint8 = 1 << iota
	flagAtEnd
)

// workerOutput is what one worker found: each spacecraft's passes in the order the scan found
// them (by station run, not by station).
type workerOutput struct {
	bySpacecraft map[int][]found
	errs         []SpacecraftError
}

// work plans spacecraft taken from next until none is left or ctx ends.
func (n *network) work(ctx context.Context, req Request, next *atomic.Int64) workerOutput {
	out := workerOutput{bySpacecraft: map[int][]found{}}
	sc := newScratch(len(n.stations))
	for ctx.Err() == nil {
		i := int(next.Add(1) - 1)
		if i >= len(req.Spacecraft) {
			break
		}
		tr, serr := n.sample(req.Spacecraft[i].Elements, &sc.track)
		if serr != nil {
			serr.Spacecraft = i
			out.errs = append(out.errs, *serr)
		}
		if len(tr.r) >= 2 {
			sc.found = n.scan(tr, sc, sc.found[:0])
			out.bySpacecraft[i] = slices.Clone(sc.found)
		}
	}
	return out
}

// merge puts the workers' passes in spacecraft order, then station order, on every core (a
// network plan holds hundreds of megabytes of passes). Within a station the scan found them by
// AOS (it closes a station's runs in time order), so a counting sort by station keeps that.
func (n *network) merge(parts []workerOutput, spacecraft, workers int) *Result {
	bySpacecraft := make([][]found, spacecraft)
	offset := make([]int, spacecraft+1)
	res := &Result{}
	for _, p := range parts {
		for i, passes := range p.bySpacecraft {
			bySpacecraft[i] = passes
		}
		res.Errors = append(res.Errors, p.errs...)
	}
	for i, passes := range bySpacecraft {
		offset[i+1] = offset[i] + len(passes)
	}
	res.Passes = make([]Pass, offset[spacecraft])
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := make([]int, len(n.stations)+1)
			for i := w; i < spacecraft; i += workers {
				n.place(res.Passes[offset[i]:offset[i+1]], i, bySpacecraft[i], count)
				bySpacecraft[i] = nil
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(res.Errors, func(a, b SpacecraftError) int { return a.Spacecraft - b.Spacecraft })
	return res
}

// place writes spacecraft sc's passes into dst ordered by station, reusing count (one entry per
// station and one more).
func (n *network) place(dst []Pass, sc int, passes []found, count []int) {
	clear(count)
	for _, f := range passes {
		count[f.station+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	for _, f := range passes {
		p := &dst[count[f.station]]
		count[f.station]++
		*p = Pass{
			Station: int(f.station), Spacecraft: sc,
			AOS: n.time(f.aos), TCA: n.time(f.tca), LOS: n.time(f.los),
			MaxElevationDeg: f.maxEl, AOSAzimuthDeg: f.aosAz, LOSAzimuthDeg: f.losAz,
			InProgressAtStart: f.flags&flagAtStart != 0,
			InProgressAtEnd:   f.flags&flagAtEnd != 0,
			AlwaysVisible:     f.flags == flagAtStart|flagAtEnd,
		}
	}
}

// SortByAOS orders passes by AOS, then station, then spacecraft: the order a schedule is read in.
func SortByAOS(passes []Pass) {
	slices.SortFunc(passes, func(a, b Pass) int {
		if c := a.AOS.Compare(b.AOS); c != 0 {
			return c
		}
		if a.Station != b.Station {
			return a.Station - b.Station
		}
		return a.Spacecraft - b.Spacecraft
	})
}

// validate checks the request and names what is wrong.
func (req Request) validate() error {
	switch {
	case !req.To.After(req.From):
		return fmt.Errorf("%w: window end %s is not after its start %s", ErrInvalidRequest,
			req.To.UTC().Format(time.RFC3339), req.From.UTC().Format(time.RFC3339))
	case req.To.Sub(req.From) > MaxWindow:
		return fmt.Errorf("%w: window of %s is longer than %s", ErrInvalidRequest, req.To.Sub(req.From), MaxWindow)
	case !validElevation(req.MinElevationDeg):
		return fmt.Errorf("%w: minimum elevation %g° is outside [−90, 90)", ErrInvalidRequest, req.MinElevationDeg)
	}
	for i, s := range req.Spacecraft {
		if s.Elements == nil {
			return fmt.Errorf("%w: spacecraft %d (NORAD %d) has no element set", ErrInvalidRequest, i, s.NORAD)
		}
	}
	for i, s := range req.Stations {
		if !validElevation(s.MinElevationDeg) {
			return fmt.Errorf("%w: station %d (%s): minimum elevation %g° is outside [−90, 90)",
				ErrInvalidRequest, i, s.ID, s.MinElevationDeg)
		}
	}
	return nil
}

func validElevation(deg float64) bool { return !math.IsNaN(deg) && deg >= -90 && deg < 90 }

// StationMask turns a station's horizon mask as the API and the stations file give it into
// the planner's (orbit validates the points and names a bad one); no points mean a flat horizon.
func StationMask(points []api.HorizonPoint) (*orbit.HorizonMask, error) {
	if len(points) == 0 {
		return nil, nil //nolint:nilnil // a flat horizon is no mask, and no error
	}
	if len(points) > api.MaxHorizonPoints {
		return nil, fmt.Errorf("horizon mask has %d points, at most %d", len(points), api.MaxHorizonPoints)
	}
	ps := make([]orbit.MaskPoint, len(points))
	for i, p := range points {
		ps[i] = orbit.MaskPoint{AzimuthDeg: p.AzimuthDeg, ElevationDeg: p.ElevationDeg}
	}
	return orbit.NewHorizonMask(ps)
}
