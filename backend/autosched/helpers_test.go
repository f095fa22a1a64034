package autosched_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/orbit"
)

var epoch = time.Date(2026, 6, 26, 0, 0, 0, 0, time.UTC)

var (
	setsOnce sync.Once
	leoSets  []*orbit.ElementSet
	setsErr  error
)

// loadLEO returns the low-Earth-orbit sets of the 571-object catalog (a copy of
// ../shared/data/celestrak-active-2026-177.tle), in the file's order.
func loadLEO(t testing.TB) []*orbit.ElementSet {
	t.Helper()
	setsOnce.Do(func() {
		f, err := os.Open("../../orbit/testdata/celestrak-active-2026-177.tle")
		if err != nil {
			setsErr = err
			return
		}
		defer func() { _ = f.Close() }() // read-only
		sets, err := orbit.ParseTLEs(f)
		if err != nil {
			setsErr = err
			return
		}
		for _, es := range sets {
			if es.MeanMotion >= 11.25 {
				leoSets = append(leoSets, es)
			}
		}
	})
	if setsErr != nil {
		t.Fatalf("load catalog: %v", setsErr)
	}
	return leoSets
}

// targets makes tracked targets of sets, priorities cycling 1..maxPriority.
func targets(sets []*orbit.ElementSet, maxPriority int) []autosched.Tracked {
	out := make([]autosched.Tracked, len(sets))
	for i, es := range sets {
		out[i] = autosched.Tracked{
			Target: autosched.Target{NORAD: es.NORADID, Priority: 1 + i%maxPriority,
				TransmitterID: fmt.Sprintf("tx-%d", es.NORADID), Decoder: "satnogs"},
			SpacecraftID: fmt.Sprintf("sc-%d", es.NORADID), ElementSetID: fmt.Sprintf("set-%d", es.NORADID), Elements: es,
		}
	}
	return out
}

// stations returns n seeded random stations between 60° S and 60° N.
func stations(n int, shares []autosched.Share) []autosched.Station {
	rng := rand.New(rand.NewPCG(14, 91))
	out := make([]autosched.Station, n)
	for i := range out {
		out[i] = autosched.Station{ID: fmt.Sprintf("station-%03d", i), TeamID: "owner",
			LatDeg: rng.Float64()*120 - 60, LonDeg: rng.Float64()*360 - 180, AltM: rng.Float64() * 2000,
			MinElevationDeg: autosched.DefaultMinElevationDeg, Shares: shares}
	}
	return out
}

// bookedSeconds sums the chosen time per team.
func bookedSeconds(chosen []autosched.Choice) map[string]float64 {
	out := map[string]float64{}
	for _, c := range chosen {
		out[c.TeamID] += c.Pass.LOS.Sub(c.Pass.AOS).Seconds()
	}
	return out
}
