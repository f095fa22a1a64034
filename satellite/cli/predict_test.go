package cli

import (
	"bufio"
	"bytes"
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

const catalogFile = "../../orbit/testdata/celestrak-active-2026-177.tle"

// run executes the command line in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

var observerArgs = []string{"--lat", "48.15", "--lon", "11.58", "--alt-m", "520"}

func predictArgs(extra ...string) []string {
	args := append([]string{"predict", "--tle", catalogFile}, observerArgs...)
	args = append(args, "--from", "2026-06-27T00:00:00Z", "--hours", "24")
	return append(args, extra...)
}

func catalogPropagator(t *testing.T, norad int) (*orbit.ElementSet, *orbit.Propagator) {
	t.Helper()
	f, err := os.Open(catalogFile)
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	sets, err := orbit.ParseTLEs(f)
	require.NoError(t, err)
	for _, es := range sets {
		if es.NORADID == norad {
			p, err := orbit.NewPropagator(es)
			require.NoError(t, err)
			return es, p
		}
	}
	t.Fatalf("norad %d not in the catalog", norad)
	return nil, nil
}

func TestPredictJSONMatchesPassSearch(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, predictArgs("--norad", "25544,26900", "--min-el", "5", "--json")...)
	require.Equal(t, 0, code, errOut)

	o, err := orbit.NewObserver(48.15, 11.58, 520)
	require.NoError(t, err)
	from := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	want := map[int][]orbit.Pass{}
	for _, n := range []int{25544, 26900} {
		_, p := catalogPropagator(t, n)
		want[n], err = orbit.FindPasses(p, o, from, from.Add(24*time.Hour), orbit.PassOptions{MinElevationDeg: 5})
		require.NoError(t, err)
	}
	got := map[int][]predictedPass{}
	var prevAOS time.Time
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p predictedPass
		require.NoError(t, json.Unmarshal(sc.Bytes(), &p), sc.Text())
		aos, err := time.Parse(time.RFC3339Nano, p.AOS)
		require.NoError(t, err)
		assert.False(t, aos.Before(prevAOS), "passes are in AOS order")
		prevAOS = aos
		got[p.NORAD] = append(got[p.NORAD], p)
	}
	for n, passes := range want {
		require.Len(t, got[n], len(passes), "norad %d", n)
		for i, w := range passes {
			g := got[n][i]
			assert.Equal(t, w.AOS.Format(jsonTime), g.AOS)
			assert.Equal(t, w.TCA.Format(jsonTime), g.TCA)
			assert.Equal(t, w.LOS.Format(jsonTime), g.LOS)
			assert.InDelta(t, w.MaxElevationDeg, g.MaxEl, 0.0005)
			assert.InDelta(t, w.AOSAzimuthDeg, g.AOSAz, 0.0005)
			assert.InDelta(t, w.LOSAzimuthDeg, g.LOSAz, 0.0005)
			assert.Equal(t, w.InProgressAtStart, g.InProgressAtStart)
			assert.Equal(t, w.InProgressAtEnd, g.InProgressAtEnd)
			assert.Equal(t, w.AlwaysVisible, g.AlwaysVisible)
		}
	}
	assert.NotEmpty(t, got[25544])
	// The JSON carries exactly the documented fields.
	first := strings.SplitN(out, "\n", 2)[0]
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(first), &fields))
	for _, k := range []string{"norad", "name", "aos", "tca", "los", "max_el", "aos_az", "los_az", "in_progress_at_start", "in_progress_at_end", "always_visible"} {
		assert.Contains(t, fields, k)
	}
	assert.Len(t, fields, 11)
}

func TestPredictTable(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, predictArgs("--norad", "25544")...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Greater(t, len(lines), 2)
	assert.Contains(t, lines[0], "AOS (UTC)")
	assert.Contains(t, lines[0], "MAX EL")
	assert.Contains(t, lines[1], "ISS (ZARYA)")
}

func TestPredictAlwaysVisible(t *testing.T) {
	t.Parallel()
	// METEOSAT-10 sits at 0° longitude, 34° up from 48° N.
	code, out, errOut := run(t, predictArgs("--norad", "38552", "--json")...)
	require.Equal(t, 0, code, errOut)
	var p predictedPass
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &p))
	assert.True(t, p.AlwaysVisible)
	assert.Equal(t, "2026-06-27T00:00:00.000Z", p.AOS)
	assert.Equal(t, "2026-06-28T00:00:00.000Z", p.LOS)
}

func TestPredictWholeCatalog(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("whole catalog: skipped with -short")
	}
	code, out, errOut := run(t, predictArgs("--hours", "2", "--min-el", "10", "--json")...)
	require.Equal(t, 0, code, errOut)
	assert.Greater(t, strings.Count(out, "\n"), 100)
}

func TestPredictRejectsBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tle")
	require.NoError(t, os.WriteFile(bad, []byte("ISS\n1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9991\n2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225\n"), 0o600))
	empty := filepath.Join(dir, "empty.tle")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing\n"), 0o600))
	base := func(tle string) []string {
		return append([]string{"predict", "--tle", tle, "--from", "2026-06-27T00:00:00Z", "--hours", "24"}, observerArgs...)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no tle", []string{"predict", "--lat", "1", "--lon", "1", "--alt-m", "1", "--from", "2026-06-27T00:00:00Z", "--hours", "1"}, `"tle" not set`},
		{"no hours", append([]string{"predict", "--tle", catalogFile, "--from", "2026-06-27T00:00:00Z"}, observerArgs...), `"hours" not set`},
		{"latitude", append(base(catalogFile), "--lat", "91"), "--lat: 91 is outside"},
		{"longitude", append(base(catalogFile), "--lon", "-200"), "--lon: -200 is outside"},
		{"altitude", append(base(catalogFile), "--alt-m", "520000"), "--alt-m: 520000 is outside"},
		{"latitude not a number", append(base(catalogFile), "--lat", "north"), `invalid argument "north" for "--lat"`},
		{"from", append(base(catalogFile), "--from", "yesterday"), `--from: "yesterday" is not an RFC 3339 time`},
		{"hours zero", append(base(catalogFile), "--hours", "0"), "--hours: 0 is outside"},
		{"hours too many", append(base(catalogFile), "--hours", "9000"), "--hours: 9000 is outside"},
		{"min elevation", append(base(catalogFile), "--min-el", "90"), "--min-el: 90 is outside"},
		{"norad negative", append(base(catalogFile), "--norad", "-4"), "--norad: -4 is not a catalog number"},
		{"norad not in file", append(base(catalogFile), "--norad", "99999"), "--norad: 99999 is not in"},
		{"norad not a number", append(base(catalogFile), "--norad", "ISS"), `invalid argument "ISS" for "--norad"`},
		{"missing file", base(filepath.Join(dir, "none.tle")), "--tle: open"},
		{"bad checksum", base(bad), "checksum"},
		{"no element sets", base(empty), "no element sets"},
		{"extra argument", append(base(catalogFile), "now"), "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tc.args...)
			assert.NotEqual(t, 0, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.wantErr)
		})
	}
}
