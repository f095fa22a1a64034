package planner_test

import (
	"context"
	"errors"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/orbit"
)

// The contract with orbit.FindPasses, the single-pair search verified against Skyfield.
const (
	maxTimeError = time.Second
	maxElevError = 0.05 // degrees
)

var (
	catalogOnce sync.Once
	catalog     []planner.Spacecraft
	catalogErr  error
)

// loadCatalog reads the 571 real element sets orbit's tests use (LEO, MEO, GEO, HEO, deep space).
func loadCatalog(t testing.TB) []planner.Spacecraft {
	t.Helper()
	catalogOnce.Do(func() {
		f, err := os.Open("../../orbit/testdata/celestrak-active-2026-177.tle")
		if err != nil {
			catalogErr = err
			return
		}
		defer func() { _ = f.Close() }() // read-only
		sets, err := orbit.ParseTLEs(f)
		if err != nil {
			catalogErr = err
			return
		}
		for _, es := range sets {
			catalog = append(catalog, planner.Spacecraft{NORAD: es.NORADID, Name: es.Name, Elements: es})
		}
	})
	if catalogErr != nil {
		t.Fatalf("load catalog: %v", catalogErr)
	}
	return catalog
}

var epoch = time.Date(2026, 6, 26, 0, 0, 0, 0, time.UTC)

// TestPlanMatchesSinglePairSearch plans the whole catalog over stations chosen to stress the
// shared search: the equator, mid-latitudes, both poles, a 5 km-high site, a negative minimum
// elevation, and a station behind a horizon mask, over a window that starts and ends mid-pass.
// Every pass orbit.FindPasses finds must be found, and nothing else.
func TestPlanMatchesSinglePairSearch(t *testing.T) {
	t.Parallel()
	mask, err := orbit.NewHorizonMask([]orbit.MaskPoint{
		{AzimuthDeg: 0, ElevationDeg: 5}, {AzimuthDeg: 90, ElevationDeg: 25},
		{AzimuthDeg: 180, ElevationDeg: 2}, {AzimuthDeg: 270, ElevationDeg: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	stations := []planner.Station{
		{ID: "equator", LatDeg: 0, LonDeg: 0},
		{ID: "munich", LatDeg: 48.15, LonDeg: 11.57, AltM: 520},
		{ID: "north-pole", LatDeg: 90, LonDeg: 0},
		{ID: "south-pole", LatDeg: -89.99, LonDeg: 139.27, AltM: 2835},
		{ID: "chajnantor", LatDeg: -23.0229, LonDeg: -67.7552, AltM: 5058},
		{ID: "low", LatDeg: 64.86, LonDeg: -147.85, MinElevationDeg: -1},
		{ID: "masked", LatDeg: 35.68, LonDeg: 139.69, Mask: mask},
		{ID: "high-min", LatDeg: -33.9, LonDeg: 18.4, MinElevationDeg: 30},
	}
	var sc []planner.Spacecraft
	for i, s := range loadCatalog(t) {
		if i%catalogStride == 0 {
			sc = append(sc, s)
		}
	}
	// A window that does not start on a whole hour and is not a whole number of steps long.
	from := epoch.Add(17*time.Minute + 3*time.Second)
	to := from.Add(24*time.Hour + 7*time.Minute)
	req := planner.Request{Spacecraft: sc, Stations: stations, From: from, To: to, MinElevationDeg: -1}
	res, err := planner.Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]int][]planner.Pass{}
	for _, p := range res.Passes {
		key := [2]int{p.Station, p.Spacecraft}
		got[key] = append(got[key], p)
	}
	failed := map[int]bool{}
	for _, e := range res.Errors {
		failed[e.Spacecraft] = true
	}
	var compared, geo int
	var worst passErrors
	for i, st := range stations {
		var opts []orbit.ObserverOption
		if st.Mask != nil {
			opts = append(opts, orbit.WithHorizonMask(st.Mask))
		}
		obs, err := orbit.NewObserver(st.LatDeg, st.LonDeg, st.AltM, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for j, s := range sc {
			prop, err := orbit.NewPropagator(s.Elements)
			if err != nil {
				t.Fatal(err)
			}
			want, err := orbit.FindPasses(prop, obs, from, to, orbit.PassOptions{MinElevationDeg: math.Max(-1, st.MinElevationDeg)})
			if err != nil {
				if !failed[j] {
					t.Errorf("%s × %d: FindPasses failed (%v) but the planner reported no error", st.ID, s.NORAD, err)
				}
				continue
			}
			comparePasses(t, st.ID, s.NORAD, want, got[[2]int{i, j}], &worst)
			compared += len(want)
			for _, p := range want {
				if p.AlwaysVisible {
					geo++
				}
			}
		}
	}
	t.Logf("compared %d passes (%d always visible) of %d spacecraft over %d stations; planner found %d",
		compared, geo, len(sc), len(stations), len(res.Passes))
	t.Logf("largest differences: AOS %v, LOS %v, TCA %v, max elevation %.5f°, azimuth %.4f°",
		worst.aos, worst.los, worst.tca, worst.elevation, worst.azimuth)
	if compared < 1000/catalogStride || geo == 0 {
		t.Fatalf("the comparison covered too little: %d passes, %d always visible", compared, geo)
	}
}

// passErrors holds the largest differences seen between the planner and FindPasses.
type passErrors struct {
	aos, los, tca      time.Duration
	elevation, azimuth float64
}

func (e *passErrors) add(w orbit.Pass, g planner.Pass) {
	e.aos = max(e.aos, absDuration(g.AOS.Sub(w.AOS)))
	e.los = max(e.los, absDuration(g.LOS.Sub(w.LOS)))
	if !w.AlwaysVisible {
		e.tca = max(e.tca, absDuration(g.TCA.Sub(w.TCA)))
	}
	e.elevation = math.Max(e.elevation, math.Abs(g.MaxElevationDeg-w.MaxElevationDeg))
	if !w.InProgressAtStart {
		e.azimuth = math.Max(e.azimuth, angleDiff(g.AOSAzimuthDeg, w.AOSAzimuthDeg))
	}
	if !w.InProgressAtEnd {
		e.azimuth = math.Max(e.azimuth, angleDiff(g.LOSAzimuthDeg, w.LOSAzimuthDeg))
	}
}

func comparePasses(t *testing.T, station string, norad int, want []orbit.Pass, got []planner.Pass, worst *passErrors) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s × %d: %d passes, want %d", station, norad, len(got), len(want))
		for _, p := range want {
			t.Logf("  want %s – %s max %.4f°", p.AOS.Format(time.RFC3339Nano), p.LOS.Format(time.RFC3339Nano), p.MaxElevationDeg)
		}
		for _, p := range got {
			t.Logf("  got  %s – %s max %.4f°", p.AOS.Format(time.RFC3339Nano), p.LOS.Format(time.RFC3339Nano), p.MaxElevationDeg)
		}
		return
	}
	for k, w := range want {
		g := got[k]
		worst.add(w, g)
		switch {
		case absDuration(g.AOS.Sub(w.AOS)) > maxTimeError, absDuration(g.LOS.Sub(w.LOS)) > maxTimeError:
			t.Errorf("%s × %d pass %d: %s – %s, want %s – %s", station, norad, k, g.AOS, g.LOS, w.AOS, w.LOS)
		case math.Abs(g.MaxElevationDeg-w.MaxElevationDeg) > maxElevError:
			t.Errorf("%s × %d pass %d: max elevation %.4f°, want %.4f°", station, norad, k, g.MaxElevationDeg, w.MaxElevationDeg)
		case g.InProgressAtStart != w.InProgressAtStart, g.InProgressAtEnd != w.InProgressAtEnd, g.AlwaysVisible != w.AlwaysVisible:
			t.Errorf("%s × %d pass %d: flags start=%v end=%v always=%v, want %v %v %v", station, norad, k,
				g.InProgressAtStart, g.InProgressAtEnd, g.AlwaysVisible, w.InProgressAtStart, w.InProgressAtEnd, w.AlwaysVisible)
		case !w.InProgressAtStart && angleDiff(g.AOSAzimuthDeg, w.AOSAzimuthDeg) > 0.5,
			!w.InProgressAtEnd && angleDiff(g.LOSAzimuthDeg, w.LOSAzimuthDeg) > 0.5:
			t.Errorf("%s × %d pass %d: azimuths %.3f/%.3f, want %.3f/%.3f", station, norad, k,
				g.AOSAzimuthDeg, g.LOSAzimuthDeg, w.AOSAzimuthDeg, w.LOSAzimuthDeg)
		}
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func angleDiff(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 360)
	return math.Min(d, 360-d)
}

func TestPlanRejectsBadRequests(t *testing.T) {
	t.Parallel()
	sc := loadCatalog(t)[:1]
	good := planner.Station{ID: "s", LatDeg: 10, LonDeg: 10}
	cases := map[string]planner.Request{
		"empty window":          {Spacecraft: sc, Stations: []planner.Station{good}, From: epoch, To: epoch},
		"window too long":       {Spacecraft: sc, Stations: []planner.Station{good}, From: epoch, To: epoch.Add(planner.MaxWindow + time.Hour)},
		"min elevation":         {Spacecraft: sc, Stations: []planner.Station{good}, From: epoch, To: epoch.Add(time.Hour), MinElevationDeg: 90},
		"nil elements":          {Spacecraft: []planner.Spacecraft{{NORAD: 1}}, Stations: []planner.Station{good}, From: epoch, To: epoch.Add(time.Hour)},
		"station latitude":      {Spacecraft: sc, Stations: []planner.Station{{ID: "bad", LatDeg: 91}}, From: epoch, To: epoch.Add(time.Hour)},
		"station min elevation": {Spacecraft: sc, Stations: []planner.Station{{ID: "bad", MinElevationDeg: math.NaN()}}, From: epoch, To: epoch.Add(time.Hour)},
	}
	for name, req := range cases {
		_, err := planner.Plan(context.Background(), req)
		if !errors.Is(err, planner.ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest", name, err)
		}
	}
}

// TestPlanReportsDecayedSpacecraft: a spacecraft whose propagation fails mid-window keeps the
// passes before the failure and is named in Errors; the others are planned as usual.
func TestPlanReportsDecayedSpacecraft(t *testing.T) {
	t.Parallel()
	sc := loadCatalog(t)
	decaying := *sc[0].Elements
	decaying.BStar = 0.5 // drags it down within hours
	decaying.MeanMotion = 16.2
	req := planner.Request{
		Spacecraft: []planner.Spacecraft{{NORAD: 99999, Elements: &decaying}, sc[0]},
		Stations:   []planner.Station{{ID: "s", LatDeg: 40, LonDeg: -105}},
		From:       epoch, To: epoch.Add(7 * 24 * time.Hour),
	}
	res, err := planner.Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Spacecraft != 0 {
		t.Fatalf("errors = %v, want one for spacecraft 0", res.Errors)
	}
	for _, p := range res.Passes {
		if p.Spacecraft == 0 && !p.LOS.Before(res.Errors[0].At) {
			t.Errorf("pass %v after the decay at %s", p, res.Errors[0].At)
		}
	}
	if countFor(res.Passes, 1) == 0 {
		t.Error("the healthy spacecraft got no passes")
	}
}

func countFor(ps []planner.Pass, sc int) int {
	n := 0
	for _, p := range ps {
		if p.Spacecraft == sc {
			n++
		}
	}
	return n
}

func TestPlanStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := planner.Request{Spacecraft: loadCatalog(t), Stations: []planner.Station{{ID: "s"}},
		From: epoch, To: epoch.Add(time.Hour)}
	if _, err := planner.Plan(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
