package orbit

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkPassSearch24hCatalog searches 24 hours of passes of the whole 571-object catalog
// over one station at 48° N (minimum elevation 0°), one op being the whole catalog.
func BenchmarkPassSearch24hCatalog(b *testing.B) {
	props, refused := catalogPropagators(b)
	o := mustObserver(b, 48.15, 11.58, 520)
	from := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	b.ReportAllocs()
	passes, failed := 0, 0
	for b.Loop() {
		passes, failed = 0, 0
		for _, p := range props {
			got, err := FindPasses(p, o, from, to, PassOptions{})
			if err != nil {
				failed++
				continue
			}
			passes += len(got)
		}
	}
	b.ReportMetric(float64(passes), "passes/op")
	b.ReportMetric(float64(failed+refused), "failed/op")
}

// TestCatalogPassesMatchBruteForce runs the pass search on the whole catalog and checks every
// object against a dense scan: no pass is missed, AOS and LOS agree within the scan step. It is
// the evidence behind the step bound of decision 0006. By default one station and a 10 s scan
// (about 20 s of CPU); TALOS_ORBIT_DENSE_SCAN=1 adds a southern station and scans every 5 s.
func TestCatalogPassesMatchBruteForce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("dense scan of the whole catalog: skipped with -short")
	}
	props, _ := catalogPropagators(t)
	from := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	const window = 24 * time.Hour
	stations := []struct{ lat, lon, alt float64 }{{48.15, 11.58, 520}}
	dt := 10.0
	if os.Getenv("TALOS_ORBIT_DENSE_SCAN") == "1" {
		stations = append(stations, struct{ lat, lon, alt float64 }{-35.4, 148.98, 680})
		dt = 5
	}
	total := 0
	for _, st := range stations {
		o := mustObserver(t, st.lat, st.lon, st.alt)
		for i, p := range props {
			if i%catalogStride != 0 {
				continue
			}
			passes, err := FindPasses(p, o, from, from.Add(window), PassOptions{MinElevationDeg: 0})
			if err != nil {
				// A propagation failure must show in the dense scan too.
				_, _, perr := p.Propagate(from.Add(window))
				require.Error(t, perr, "norad %d: %v", p.ElementSet().NORADID, err)
				continue
			}
			brute := bruteForce(t, p, o, from, window, 0, dt)
			assertMatchesBruteForce(t, passes, brute, from, dt)
			total += len(passes)
		}
	}
	t.Logf("%d passes over %d station(s) agree with a %g s scan", total, len(stations), dt)
	require.Positive(t, total)
}
