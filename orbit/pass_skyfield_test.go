package orbit

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func goldenPropagator(t testing.TB, obj goldenObject) *Propagator {
	t.Helper()
	es, err := ParseTLE(obj.Name, obj.Line1, obj.Line2)
	require.NoError(t, err)
	p, err := NewPropagator(es)
	require.NoError(t, err)
	return p
}

// TestLookMatchesSkyfield runs the whole chain, this package's SGP4 included, against
// Skyfield's look angles and range rates.
func TestLookMatchesSkyfield(t *testing.T) {
	t.Parallel()
	g := loadSkyfieldGolden(t)
	var worstAz, worstEl, worstRR, worstRange float64
	for _, obj := range g.Objects {
		p := goldenPropagator(t, obj)
		for _, st := range obj.Stations {
			for _, s := range st.Samples {
				o := mustObserver(t, st.Lat, st.Lon, st.AltM, WithUT1MinusUTC(s.UT1MinusUTC))
				l, err := o.Look(p, s.Time)
				require.NoError(t, err)
				worstAz = math.Max(worstAz, angularAzimuthError(l, s))
				worstEl = math.Max(worstEl, math.Abs(l.ElevationDeg-s.El))
				worstRR = math.Max(worstRR, math.Abs(l.RangeRateKmS-s.RangeRateKmS))
				worstRange = math.Max(worstRange, math.Abs(l.RangeKm-s.RangeKm))
			}
		}
	}
	t.Logf("worst differences from Skyfield (propagator included): az·cos(el) %.2e°, el %.2e°, range %.2e km, range rate %.2e km/s",
		worstAz, worstEl, worstRange, worstRR)
	assert.Less(t, worstAz, goldenAngleTolDeg)
	assert.Less(t, worstEl, goldenAngleTolDeg)
	assert.Less(t, worstRR, goldenRangeRateTolKmS)
}

// TestPassesMatchSkyfield compares FindPasses with Skyfield's find_events (refined to the
// millisecond by the golden script) for every object, station and minimum elevation: the same
// number of passes, AOS and LOS within 1 s, maximum elevation within 0.05°.
func TestPassesMatchSkyfield(t *testing.T) {
	t.Parallel()
	g := loadSkyfieldGolden(t)
	var worstAOS, worstLOS, worstTCA, worstMaxEl, worstAz float64
	count := 0
	for _, obj := range g.Objects {
		p := goldenPropagator(t, obj)
		for _, st := range obj.Stations {
			dut1 := st.Samples[0].UT1MinusUTC
			o := mustObserver(t, st.Lat, st.Lon, st.AltM, WithUT1MinusUTC(dut1))
			for _, search := range st.PassSearches {
				name := fmt.Sprintf("%d/%s/min %g°", obj.NORAD, st.Name, search.MinEl)
				got, err := FindPasses(p, o, g.WindowStart, g.WindowEnd, PassOptions{MinElevationDeg: search.MinEl})
				require.NoError(t, err, name)
				want := search.Passes
				require.Len(t, got, len(want), name)
				for i, w := range want {
					count++
					q := got[i]
					assert.Equal(t, w.AOS == nil, q.InProgressAtStart, name)
					assert.Equal(t, w.LOS == nil, q.InProgressAtEnd, name)
					assert.Equal(t, w.AOS == nil && w.LOS == nil, q.AlwaysVisible, name)
					if w.AOS != nil {
						worstAOS = math.Max(worstAOS, math.Abs(q.AOS.Sub(*w.AOS).Seconds()))
						worstAz = math.Max(worstAz, math.Abs(math.Remainder(q.AOSAzimuthDeg-*w.AOSAz, 360)))
					}
					if w.LOS != nil {
						worstLOS = math.Max(worstLOS, math.Abs(q.LOS.Sub(*w.LOS).Seconds()))
						worstAz = math.Max(worstAz, math.Abs(math.Remainder(q.LOSAzimuthDeg-*w.LOSAz, 360)))
					}
					if !w.TCA.IsZero() {
						worstTCA = math.Max(worstTCA, math.Abs(q.TCA.Sub(w.TCA).Seconds()))
						worstMaxEl = math.Max(worstMaxEl, math.Abs(q.MaxElevationDeg-w.MaxEl))
					}
				}
			}
		}
	}
	t.Logf("%d passes; worst differences from Skyfield: AOS %.4f s, LOS %.4f s, TCA %.4f s, max el %.2e°, AOS/LOS az %.2e°",
		count, worstAOS, worstLOS, worstTCA, worstMaxEl, worstAz)
	assert.Less(t, worstAOS, 1.0)
	assert.Less(t, worstLOS, 1.0)
	assert.Less(t, worstMaxEl, 0.05)
	assert.Less(t, worstAz, 0.05)
}
