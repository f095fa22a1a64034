package orbit

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden file is written by testdata/skyfield_golden.py (Skyfield 1.45, its built-in
// timescale and its own SGP4); see docs/orbit-geometry.md. These tests need no Python.

type skyfieldGolden struct {
	WindowStart time.Time      `json:"window_start"`
	WindowEnd   time.Time      `json:"window_end"`
	Atmosphere  goldenAtmo     `json:"atmosphere"`
	Objects     []goldenObject `json:"objects"`
}

type goldenAtmo struct {
	PressureHPa  float64 `json:"pressure_hpa"`
	TemperatureC float64 `json:"temperature_c"`
}

type goldenObject struct {
	NORAD    int             `json:"norad"`
	Name     string          `json:"name"`
	Line1    string          `json:"line1"`
	Line2    string          `json:"line2"`
	Stations []goldenStation `json:"stations"`
}

type goldenStation struct {
	Name         string             `json:"name"`
	Lat          float64            `json:"lat"`
	Lon          float64            `json:"lon"`
	AltM         float64            `json:"alt_m"`
	PassSearches []goldenPassSearch `json:"pass_searches"`
	Samples      []goldenLookSample `json:"samples"`
}

type goldenPassSearch struct {
	MinEl  float64      `json:"min_el"`
	Passes []goldenPass `json:"passes"`
}

type goldenPass struct {
	AOS   *time.Time `json:"aos"`
	LOS   *time.Time `json:"los"`
	TCA   time.Time  `json:"tca"`
	MaxEl float64    `json:"max_el"`
	AOSAz *float64   `json:"aos_az"`
	LOSAz *float64   `json:"los_az"`
}

type goldenLookSample struct {
	Time         time.Time  `json:"time"`
	UT1MinusUTC  float64    `json:"ut1_minus_utc"`
	GMSTRad      float64    `json:"gmst_rad"`
	TEMER        [3]float64 `json:"teme_r_km"`
	TEMEV        [3]float64 `json:"teme_v_km_s"`
	Az           float64    `json:"az"`
	El           float64    `json:"el"`
	ElRefracted  float64    `json:"el_refracted"`
	RangeKm      float64    `json:"range_km"`
	RangeRateKmS float64    `json:"range_rate_km_s"`
	SubLat       float64    `json:"sub_lat"`
	SubLon       float64    `json:"sub_lon"`
	SubAltKm     float64    `json:"sub_alt_km"`
}

func loadSkyfieldGolden(t testing.TB) skyfieldGolden {
	t.Helper()
	data, err := os.ReadFile("testdata/skyfield_golden.json")
	require.NoError(t, err)
	var g skyfieldGolden
	require.NoError(t, json.Unmarshal(data, &g))
	require.NotEmpty(t, g.Objects)
	return g
}

// Acceptance tolerances of issue 5.
const (
	goldenAngleTolDeg     = 0.005
	goldenRangeRateTolKmS = 0.0005
)

// TestLookGeometryMatchesSkyfield feeds Skyfield's own TEME states to the frames and look-angle
// code, so it measures the geometry alone, independent of the propagator.
func TestLookGeometryMatchesSkyfield(t *testing.T) {
	t.Parallel()
	g := loadSkyfieldGolden(t)
	var worst struct{ gmst, az, el, elRefr, rng, rr, subLat, subLon, subAlt float64 }
	n := 0
	for _, obj := range g.Objects {
		for _, st := range obj.Stations {
			o := mustObserver(t, st.Lat, st.Lon, st.AltM)
			for _, s := range st.Samples {
				n++
				r := Vec3{s.TEMER[0], s.TEMER[1], s.TEMER[2]}
				v := Vec3{s.TEMEV[0], s.TEMEV[1], s.TEMEV[2]}
				theta, _ := GMST(JulianDateOf(s.Time), s.UT1MinusUTC)
				rE, vE := TEMEToECEF(r, v, s.Time, s.UT1MinusUTC)
				l := o.LookECEF(rE, vE)
				refr := Atmosphere{PressureHPa: g.Atmosphere.PressureHPa, TemperatureC: g.Atmosphere.TemperatureC}
				sub := ECEFToGeodetic(rE)
				worst.gmst = math.Max(worst.gmst, math.Abs(math.Remainder(theta-s.GMSTRad, 2*math.Pi)))
				worst.az = math.Max(worst.az, angularAzimuthError(l, s))
				worst.el = math.Max(worst.el, math.Abs(l.ElevationDeg-s.El))
				if s.El > 0 {
					worst.elRefr = math.Max(worst.elRefr, math.Abs(l.ElevationDeg+refr.Refraction(l.ElevationDeg)-s.ElRefracted))
				}
				worst.rng = math.Max(worst.rng, math.Abs(l.RangeKm-s.RangeKm))
				worst.rr = math.Max(worst.rr, math.Abs(l.RangeRateKmS-s.RangeRateKmS))
				worst.subLat = math.Max(worst.subLat, math.Abs(sub.LatitudeDeg-s.SubLat))
				worst.subLon = math.Max(worst.subLon, math.Abs(math.Remainder(sub.LongitudeDeg-s.SubLon, 360)))
				worst.subAlt = math.Max(worst.subAlt, math.Abs(sub.AltitudeKm-s.SubAltKm))
			}
		}
	}
	t.Logf("%d samples; worst differences from Skyfield: GMST %.2e rad, az %.2e°, el %.2e°, "+
		"refracted el %.2e°, range %.2e km, range rate %.2e km/s, sub-point lat %.2e° lon %.2e° alt %.2e km",
		n, worst.gmst, worst.az, worst.el, worst.elRefr, worst.rng, worst.rr, worst.subLat, worst.subLon, worst.subAlt)
	assert.Less(t, worst.gmst, 1e-9)
	assert.Less(t, worst.az, goldenAngleTolDeg)
	assert.Less(t, worst.el, goldenAngleTolDeg)
	// Skyfield inverts Bennett's formula, this package uses Sæmundsson's; they agree to ~0.1′.
	assert.Less(t, worst.elRefr, goldenAngleTolDeg)
	assert.Less(t, worst.rng, 1e-3)
	assert.Less(t, worst.rr, goldenRangeRateTolKmS)
	assert.Less(t, worst.subLat, 1e-6)
	assert.Less(t, worst.subLon, 1e-6)
	assert.Less(t, worst.subAlt, 1e-3)
}

// angularAzimuthError is the azimuth difference in degrees, scaled by cos(elevation): the
// pointing error it causes, which stays meaningful near the zenith where azimuth is unstable.
func angularAzimuthError(l Look, s goldenLookSample) float64 {
	return math.Abs(math.Remainder(l.AzimuthDeg-s.Az, 360)) * math.Cos(s.El*geoRadPerDeg)
}
