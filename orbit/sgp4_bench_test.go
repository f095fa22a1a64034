package orbit

import (
	"testing"
	"time"

	satellite "github.com/joshuaferrara/go-satellite"
)

// Benchmarks side by side with go-satellite (run: go test -run '^$' -bench Propagate -benchmem
// ./orbit/). Each talos/go-satellite pair propagates the same element set to the same whole-second
// time, the only kind go-satellite accepts.

var benchSink Vec3

func benchTalos(b *testing.B, l1, l2 string, after time.Duration) {
	p := mustPropagator(b, l1, l2)
	at := p.Epoch().Truncate(time.Second).Add(after)
	if _, _, err := p.Propagate(at); err != nil { // warm-up: builds the resonance checkpoints
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, _, err := p.Propagate(at)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = r
	}
}

func benchGoSatellite(b *testing.B, l1, l2 string, after time.Duration) {
	sat := satellite.TLEToSat(l1, l2, satellite.GravityWGS72)
	es, err := ParseTLE("", l1, l2)
	if err != nil {
		b.Fatal(err)
	}
	at := es.Epoch.Truncate(time.Second).Add(after).UTC()
	y, mo, d := at.Date()
	h, mi, s := at.Clock()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, _ := satellite.Propagate(sat, y, int(mo), d, h, mi, s)
		benchSink = Vec3{r.X, r.Y, r.Z}
	}
}

// BenchmarkPropagateLEO: the ISS, 3 hours after epoch.
func BenchmarkPropagateLEO(b *testing.B) {
	b.Run("talos", func(b *testing.B) { benchTalos(b, issLine1, issLine2, 3*time.Hour) })
	b.Run("go-satellite", func(b *testing.B) { benchGoSatellite(b, issLine1, issLine2, 3*time.Hour) })
}

// BenchmarkPropagateGEO2yr: a 24 h resonant GEO (ITALSAT 2) two years after its epoch. The
// reference integrator walks 1461 steps of 720 min from the epoch on every call; the checkpoint
// table makes the cost that of a call near epoch.
func BenchmarkPropagateGEO2yr(b *testing.B) {
	const twoYears = 2 * 365 * 24 * time.Hour
	b.Run("talos", func(b *testing.B) { benchTalos(b, geoLine1, geoLine2, twoYears) })
	b.Run("go-satellite", func(b *testing.B) { benchGoSatellite(b, geoLine1, geoLine2, twoYears) })
}

// BenchmarkPropagateGEO2yrCold measures the first call: a new propagator, whose checkpoint table
// is built on the way (the one-time cost behind BenchmarkPropagateGEO2yr/talos).
func BenchmarkPropagateGEO2yrCold(b *testing.B) {
	es, err := ParseTLE("", geoLine1, geoLine2)
	if err != nil {
		b.Fatal(err)
	}
	at := es.Epoch.Add(2 * 365 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPropagator(es)
		if err != nil {
			b.Fatal(err)
		}
		r, _, err := p.Propagate(at)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = r
	}
}

// BenchmarkPropagateMolniya: a 12 h resonant orbit a week after epoch.
func BenchmarkPropagateMolniya(b *testing.B) {
	b.Run("talos", func(b *testing.B) { benchTalos(b, molniyaLine1, molniyaLine2, 7*24*time.Hour) })
	b.Run("go-satellite", func(b *testing.B) { benchGoSatellite(b, molniyaLine1, molniyaLine2, 7*24*time.Hour) })
}

// BenchmarkPropagateGEO2yrParallel shares one propagator between goroutines: reads of the
// checkpoint table take no lock, so the cost per call stays that of the serial benchmark.
func BenchmarkPropagateGEO2yrParallel(b *testing.B) {
	p := mustPropagator(b, geoLine1, geoLine2)
	at := p.Epoch().Add(2 * 365 * 24 * time.Hour)
	if _, _, err := p.Propagate(at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := p.Propagate(at); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
