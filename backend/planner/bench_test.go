package planner_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/planner"
)

// randomStations returns n stations at seeded random places between 75° S and 75° N, at up to
// 3 km altitude.
func randomStations(n int) []planner.Station {
	rng := rand.New(rand.NewPCG(2026, 177))
	out := make([]planner.Station, n)
	for i := range out {
		out[i] = planner.Station{
			ID:     fmt.Sprintf("station-%04d", i),
			LatDeg: rng.Float64()*150 - 75, LonDeg: rng.Float64()*360 - 180, AltM: rng.Float64() * 3000,
		}
	}
	return out
}

// benchStations is the network size of BenchmarkPlanNetwork.
var benchStations = 1000

// BenchmarkPlanNetwork is the goal: 1,000 stations × the 571-object catalog × 24 h,
// every pass written as a JSON line. It reports the passes found and passes per second.
func BenchmarkPlanNetwork(b *testing.B) {
	req := planner.Request{Spacecraft: loadCatalog(b), Stations: randomStations(benchStations),
		From: epoch, To: epoch.Add(24 * time.Hour)}
	var passes int
	cpu0 := cpuTime(b)
	for b.Loop() {
		res, err := planner.Plan(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if err := planner.WriteJSONLines(io.Discard, req, res.Passes); err != nil {
			b.Fatal(err)
		}
		passes = len(res.Passes)
	}
	b.ReportMetric(float64(passes), "passes")
	b.ReportMetric(float64(passes)*float64(b.N)/b.Elapsed().Seconds(), "passes/s")
	// The CPU time the process used per plan, on every core: a figure that other work on a
	// busy machine does not inflate the way it inflates the wall time.
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user and system time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
