package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/orbit"
)

const planISS = `ISS (ZARYA)
1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990
2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225
`

// TestPlanCommandMatchesFindPasses: --json prints one line per pass with the documented fields,
// the same passes orbit.FindPasses finds for each station.
func TestPlanCommandMatchesFindPasses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tle := filepath.Join(dir, "iss.tle")
	require.NoError(t, os.WriteFile(tle, []byte(planISS), 0o600))
	stations := filepath.Join(dir, "stations.json")
	require.NoError(t, os.WriteFile(stations, []byte(`[
		{"id": "munich", "lat": 48.15, "lon": 11.57, "alt_m": 520},
		{"id": "cape-town", "lat": -33.9, "lon": 18.4, "min_el": 5},
		{"id": "tokyo", "lat": 35.68, "lon": 139.69, "horizon_mask": [{"az_deg": 0, "el_deg": 5},
			{"az_deg": 90, "el_deg": 25}, {"az_deg": 180, "el_deg": 2}, {"az_deg": 270, "el_deg": 12}]}]`), 0o600))
	from := "2026-06-26T12:00:00Z"
	r := runCLI(t, nil, "", "plan", "--tle", tle, "--stations", stations, "--from", from, "--hours", "24", "--json")
	require.Equal(t, 0, r.code, r.err)
	assert.Empty(t, r.err, "a window a day from the epoch needs no warning")

	type line struct {
		Station string  `json:"station"`
		NORAD   int     `json:"norad"`
		AOS     string  `json:"aos"`
		TCA     string  `json:"tca"`
		LOS     string  `json:"los"`
		MaxEl   float64 `json:"max_el"`
		AOSAz   float64 `json:"aos_az"`
		LOSAz   float64 `json:"los_az"`
	}
	got := map[string][]line{}
	sc := bufio.NewScanner(strings.NewReader(r.out))
	for sc.Scan() {
		var l line
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		require.NoError(t, dec.Decode(&l), sc.Text())
		assert.Equal(t, 25544, l.NORAD)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, l.AOS)
		got[l.Station] = append(got[l.Station], l)
	}
	sets, err := orbit.ParseTLEs(strings.NewReader(planISS))
	require.NoError(t, err)
	prop, err := orbit.NewPropagator(sets[0])
	require.NoError(t, err)
	start := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
	mask, err := orbit.NewHorizonMask([]orbit.MaskPoint{{AzimuthDeg: 0, ElevationDeg: 5},
		{AzimuthDeg: 90, ElevationDeg: 25}, {AzimuthDeg: 180, ElevationDeg: 2}, {AzimuthDeg: 270, ElevationDeg: 12}})
	require.NoError(t, err)
	for _, st := range []struct {
		id            string
		lat, lon, alt float64
		minEl         float64
		mask          *orbit.HorizonMask
	}{{"munich", 48.15, 11.57, 520, 0, nil}, {"cape-town", -33.9, 18.4, 0, 5, nil}, {"tokyo", 35.68, 139.69, 0, 0, mask}} {
		var opts []orbit.ObserverOption
		if st.mask != nil {
			opts = append(opts, orbit.WithHorizonMask(st.mask))
		}
		obs, err := orbit.NewObserver(st.lat, st.lon, st.alt, opts...)
		require.NoError(t, err)
		want, err := orbit.FindPasses(prop, obs, start, start.Add(24*time.Hour), orbit.PassOptions{MinElevationDeg: st.minEl})
		require.NoError(t, err)
		require.Len(t, got[st.id], len(want), st.id)
		require.NotEmpty(t, want, st.id)
		for i, w := range want {
			aos, err := time.Parse(time.RFC3339Nano, got[st.id][i].AOS)
			require.NoError(t, err)
			assert.WithinDuration(t, w.AOS, aos, time.Second, "%s pass %d AOS", st.id, i)
			assert.InDelta(t, w.MaxElevationDeg, got[st.id][i].MaxEl, 0.05, "%s pass %d", st.id, i)
		}
	}

	table := runCLI(t, nil, "", "plan", "--tle", tle, "--stations", stations, "--from", from, "--hours", "6")
	require.Equal(t, 0, table.code, table.err)
	assert.Contains(t, table.out, "ISS (ZARYA)")
	assert.Contains(t, table.out, "MAX EL")

	// A window 64 years past the epoch still plans (SGP4 goes on), but says the sets are far off.
	far := runCLI(t, nil, "", "plan", "--tle", tle, "--stations", stations, "--from", "2090-01-01T00:00:00Z", "--hours", "1")
	require.Equal(t, 0, far.code, far.err)
	assert.Contains(t, far.err, "warning: 1 of 1 element sets are further from the window than 3 days (LEO)")
	assert.Contains(t, far.err, "NORAD 25544 (23")
	week := runCLI(t, nil, "", "plan", "--tle", tle, "--stations", stations, "--from", "2026-06-30T12:00:00Z", "--hours", "1")
	require.Equal(t, 0, week.code, week.err)
	assert.Contains(t, week.err, "NORAD 25544 (4 days)", "a LEO set 4 days from the window is named")
}

// TestPlanCommandNamesBadInput: each mistake in the flags or files is named, with exit code 1.
func TestPlanCommandNamesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tle := write("iss.tle", planISS)
	good := write("good.json", `[{"id":"a","lat":1,"lon":2}]`)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no tle", []string{"--stations", good}, "--tle and --stations are required"},
		{"hours", []string{"--tle", tle, "--stations", good, "--hours", "0"}, "--hours must be"},
		{"from", []string{"--tle", tle, "--stations", good, "--from", "yesterday"}, "--from"},
		{"bad tle", []string{"--tle", write("bad.tle", "1 25544U 98067A   26177.5\n2 garbage\n"), "--stations", good}, "line"},
		{"empty tle", []string{"--tle", write("empty.tle", "# nothing\n"), "--stations", good}, "no element sets"},
		{"missing lat", []string{"--tle", tle, "--stations", write("nolat.json", `[{"id":"a","lon":2}]`)}, "station 0 (a): lat and lon are required"},
		{"unknown field", []string{"--tle", tle, "--stations", write("extra.json", `[{"id":"a","lat":1,"lon":2,"height":3}]`)}, `unknown field "height"`},
		{"wrong type", []string{"--tle", tle, "--stations", write("type.json", `[{"id":"a","lat":"north","lon":2}]`)}, "field"},
		{"duplicate", []string{"--tle", tle, "--stations", write("dup.json", `[{"id":"a","lat":1,"lon":2},{"id":"a","lat":1,"lon":2}]`)}, `id "a" is used twice`},
		{"latitude", []string{"--tle", tle, "--stations", write("lat.json", `[{"id":"a","lat":100,"lon":2}]`)}, "latitude 100°"},
		{"not json", []string{"--tle", tle, "--stations", write("text.json", `stations`)}, "invalid JSON"},
		{"mask", []string{"--tle", tle, "--stations", write("mask.json", `[{"id":"a","lat":1,"lon":2,"horizon_mask":[{"az_deg":400,"el_deg":3}]}]`)}, "station 0 (a): horizon_mask: "},
	}
	for _, c := range cases {
		r := runCLI(t, nil, "", append([]string{"plan"}, c.args...)...)
		assert.Equal(t, 1, r.code, c.name)
		assert.Contains(t, r.err, c.want, c.name)
	}
}
