package orbit

import (
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Element sets used by several tests and benchmarks.
const (
	// geoLine1/2: ITALSAT 2 from the verification set, a 24 h resonant GEO.
	geoLine1 = "1 24208U 96044A   06177.04061740 -.00000094  00000-0  10000-3 0  1600"
	geoLine2 = "2 24208   3.8536  80.0121 0026640 311.0977  48.3000  1.00778054 36119"
	// molniyaLine1/2: MOLNIYA 2-14 from the verification set, 12 h resonant.
	molniyaLine1 = "1 08195U 75081A   06176.33215444  .00000099  00000-0  11873-3 0   813"
	molniyaLine2 = "2 08195  64.1586 279.0717 6877146 264.7651  20.2257  2.00491383225656"
)

func mustPropagator(t testing.TB, l1, l2 string) *Propagator {
	t.Helper()
	es, err := ParseTLE("", l1, l2)
	require.NoError(t, err)
	p, err := NewPropagator(es)
	require.NoError(t, err)
	return p
}

func TestPropagatorAccessors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		l1, l2     string
		deep       bool
		periodMin  float64
		toleranceM float64
	}{
		{"ISS", issLine1, issLine2, false, 1440 / 15.72125391, 0.2},
		{"GEO", geoLine1, geoLine2, true, 1440 / 1.00778054, 1},
		{"Molniya", molniyaLine1, molniyaLine2, true, 1440 / 2.00491383, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustPropagator(t, tc.l1, tc.l2)
			assert.Equal(t, tc.deep, p.DeepSpace())
			assert.InDelta(t, tc.periodMin, p.Period().Minutes(), tc.toleranceM)
			assert.Equal(t, p.ElementSet().Epoch, p.Epoch())
		})
	}
}

func TestNewPropagatorRejectsInvalidElements(t *testing.T) {
	t.Parallel()
	_, err := NewPropagator(nil)
	require.Error(t, err)
	es, err := ParseTLE("", issLine1, issLine2)
	require.NoError(t, err)
	bad := *es
	bad.Eccentricity = 1
	_, err = NewPropagator(&bad)
	assert.ErrorIs(t, err, ErrFieldRange)
	assert.ErrorContains(t, err, "eccentricity")
	bad = *es
	bad.MeanMotion = math.NaN()
	_, err = NewPropagator(&bad)
	assert.ErrorContains(t, err, "mean motion")
	bad = *es
	bad.EpochJD.Day++
	_, err = NewPropagator(&bad)
	assert.ErrorContains(t, err, "epoch julian date")
}

// TestNewPropagatorDerivesEpochJD: a set built by hand may leave EpochJD zero.
func TestNewPropagatorDerivesEpochJD(t *testing.T) {
	t.Parallel()
	es, err := ParseTLE("", issLine1, issLine2)
	require.NoError(t, err)
	byHand := *es
	byHand.EpochJD = JulianDate{}
	p1, err := NewPropagator(es)
	require.NoError(t, err)
	p2, err := NewPropagator(&byHand)
	require.NoError(t, err)
	at := es.Epoch.Add(47 * time.Minute)
	r1, _, err := p1.Propagate(at)
	require.NoError(t, err)
	r2, _, err := p2.Propagate(at)
	require.NoError(t, err)
	assert.Less(t, r1.Sub(r2).Norm(), 1e-9, "km")
	assert.Zero(t, byHand.EpochJD, "the caller's set is not modified")
}

func TestPropagateTimeOutOfRange(t *testing.T) {
	t.Parallel()
	p := mustPropagator(t, geoLine1, geoLine2)
	for _, m := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 2e8, -2e8} {
		_, _, err := p.PropagateMinutes(m)
		assert.ErrorIs(t, err, ErrTimeOutOfRange, "%v", m)
	}
}

// TestPropagateSubSecond checks that Propagate resolves fractions of a second: the minutes since
// epoch come from two-part Julian dates, not whole seconds.
func TestPropagateSubSecond(t *testing.T) {
	t.Parallel()
	p := mustPropagator(t, issLine1, issLine2)
	base := p.Epoch().Add(3 * time.Hour)
	for _, d := range []time.Duration{0, time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond} {
		at := base.Add(d)
		r1, v1, err := p.Propagate(at)
		require.NoError(t, err)
		r2, v2, err := p.PropagateMinutes(at.Sub(p.Epoch()).Minutes())
		require.NoError(t, err)
		assert.Less(t, r1.Sub(r2).Norm(), 1e-8, "km at +%v", d) // 10 µm: float rounding only
		assert.Less(t, v1.Sub(v2).Norm(), 1e-11, "km/s at +%v", d)
	}
	// half a second apart, the ISS moves 7.7 km/s × 0.5 s
	r0, v0, err := p.Propagate(base)
	require.NoError(t, err)
	rh, _, err := p.Propagate(base.Add(500 * time.Millisecond))
	require.NoError(t, err)
	assert.InDelta(t, v0.Norm()*0.5, rh.Sub(r0).Norm(), 0.01)
	// and an epoch 8 years later still resolves a microsecond
	far := p.Epoch().AddDate(8, 0, 0)
	ra, va, _ := p.Propagate(far)
	rb, _, _ := p.Propagate(far.Add(time.Microsecond))
	assert.InDelta(t, va.Norm()*1e-6, rb.Sub(ra).Norm(), 1e-6, "km")
}

// TestPropagateZeroAllocs proves a propagation allocates nothing, near Earth and deep space, once
// the resonance checkpoints cover the time asked for (AllocsPerRun warms up with one call).
func TestPropagateZeroAllocs(t *testing.T) {
	tests := []struct {
		name   string
		l1, l2 string
		at     time.Duration
	}{
		{"LEO", issLine1, issLine2, 3 * time.Hour},
		{"GEO two years", geoLine1, geoLine2, 2 * 365 * 24 * time.Hour},
		{"Molniya before epoch", molniyaLine1, molniyaLine2, -30 * 24 * time.Hour},
	}
	for _, tc := range tests {
		p := mustPropagator(t, tc.l1, tc.l2)
		at := p.Epoch().Add(tc.at)
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := p.Propagate(at); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, tc.name)
	}
}

// referenceIntegrator integrates the resonance the way the reference implementation does: one
// mutable state, continued from the last call when the new time lies further out on the same
// side of the epoch, restarted from the epoch otherwise.
type referenceIntegrator struct {
	r               *resonance
	atime, xli, xni float64
}

func (ri *referenceIntegrator) at(t float64) (xl, nm float64) {
	if ri.atime == 0 || t*ri.atime <= 0 || math.Abs(t) < math.Abs(ri.atime) {
		ri.atime, ri.xni, ri.xli = 0, ri.r.no, ri.r.xlamo
	}
	delt := -resonanceStep
	if t > 0 {
		delt = resonanceStep
	}
	for {
		xndt, xldot, xnddt := ri.r.rates(resonanceState{ri.xli, ri.xni}, ri.atime)
		if math.Abs(t-ri.atime) < resonanceStep {
			ft := t - ri.atime
			return ri.xli + xldot*ft + xndt*ft*ft*0.5, ri.xni + xndt*ft + xnddt*ft*ft*0.5
		}
		ri.xli = ri.xli + xldot*delt + xndt*resonanceStep2 // the reference's order of additions
		ri.xni = ri.xni + xndt*delt + xnddt*resonanceStep2
		ri.atime += delt
	}
}

// TestResonanceCheckpointsBitForBit compares the checkpoint table with the reference's stateful
// integration over random times, in random order, both sides of the epoch: equal to the bit.
func TestResonanceCheckpointsBitForBit(t *testing.T) {
	t.Parallel()
	for _, lines := range [][2]string{{geoLine1, geoLine2}, {molniyaLine1, molniyaLine2}} {
		p := mustPropagator(t, lines[0], lines[1])
		require.NotNil(t, p.deep.res)
		ref := &referenceIntegrator{r: p.deep.res}
		rng := rand.New(rand.NewPCG(1, 2))
		times := []float64{0, 719.999, 720, 720.001, -720, 1440, -1e6, 1e6, 3 * 365.25 * 1440}
		for range 200 {
			times = append(times, (rng.Float64()*2-1)*4*365.25*1440)
		}
		for _, ts := range times {
			wantXL, wantNM := ref.at(ts)
			gotXL, gotNM := p.deep.res.at(ts)
			require.Equal(t, wantXL, gotXL, "xl at %v min", ts)
			require.Equal(t, wantNM, gotNM, "nm at %v min", ts)
		}
	}
}

func TestStepsBefore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    float64
		want int
	}{
		{0, 0}, {719.9, 0}, {720, 1}, {1439.99, 1}, {1440, 2}, {-720, 1}, {-719, 0}, {1e6, 1388},
	}
	for _, tc := range tests {
		delt := resonanceStep
		if tc.t <= 0 {
			delt = -resonanceStep
		}
		assert.Equal(t, tc.want, stepsBefore(tc.t, delt), "%v", tc.t)
	}
}

// TestPropagateConcurrent propagates one deep-space set from many goroutines while its
// checkpoint table grows, and compares with a propagator used from one goroutine. Run with -race.
func TestPropagateConcurrent(t *testing.T) {
	t.Parallel()
	shared := mustPropagator(t, molniyaLine1, molniyaLine2)
	serial := mustPropagator(t, molniyaLine1, molniyaLine2)
	const workers, perWorker = 8, 200
	type sample struct {
		m    float64
		r, v Vec3
	}
	results := make([][]sample, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range perWorker {
				m := (rng.Float64()*2 - 1) * 3 * 365.25 * 1440
				r, v, err := shared.PropagateMinutes(m)
				if err != nil {
					continue
				}
				results[w] = append(results[w], sample{m, r, v})
			}
		}()
	}
	wg.Wait()
	for _, rs := range results {
		for _, s := range rs {
			r, v, err := serial.PropagateMinutes(s.m)
			require.NoError(t, err)
			require.Equal(t, r, s.r)
			require.Equal(t, v, s.v)
		}
	}
}

// TestCatalogPropagatesOneDay parses the 571-object catalog and propagates each set every 10
// minutes for the day after its epoch. Only decay (code 6) is an acceptable error, and only
// for an object whose perigee is already low.
func TestCatalogPropagatesOneDay(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/celestrak-active-2026-177.tle")
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read-only: a close error changes nothing
	sets, err := ParseTLEs(f)
	require.NoError(t, err)
	require.Len(t, sets, 571)
	deep, decayed := 0, 0
	for _, es := range sets {
		p, err := NewPropagator(es)
		require.NoError(t, err, "norad %d", es.NORADID)
		if p.DeepSpace() {
			deep++
		}
		for m := 0.0; m <= 1440; m += 10 {
			r, v, err := p.PropagateMinutes(m)
			if err != nil {
				require.ErrorIs(t, err, ErrDecayed, "norad %d at %v min", es.NORADID, m)
				require.Less(t, p.near.perigeeKm, 200.0, "norad %d decays from a high perigee", es.NORADID)
				decayed++
				break
			}
			alt := r.Norm() - earthRadiusKm
			require.Greater(t, alt, 0.0, "norad %d", es.NORADID)
			require.Less(t, v.Norm(), 11.2, "norad %d faster than escape", es.NORADID)
		}
	}
	t.Logf("571 element sets: %d deep space, %d decayed within a day", deep, decayed)
}

// TestPropagateNeverReturnsNaN: should a coefficient ever become NaN, the caller gets an error,
// not a NaN position.
func TestPropagateNeverReturnsNaN(t *testing.T) {
	t.Parallel()
	p := mustPropagator(t, issLine1, issLine2)
	p.near.cc4 = math.NaN()
	r, _, err := p.PropagateMinutes(10)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Equal(t, Vec3{}, r)
}
