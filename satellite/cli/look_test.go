package cli

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/orbit"
)

func lookArgs(extra ...string) []string {
	args := append([]string{"look", "--tle", catalogFile, "--norad", "25544"}, observerArgs...)
	args = append(args, "--from", "2026-06-27T01:41:00.250Z")
	return append(args, extra...)
}

func TestLookJSONMatchesPackage(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"15s", "15", "15.0"} {
		code, out, errOut := run(t, lookArgs("--step", step, "--count", "20", "--json")...)
		require.Equal(t, 0, code, errOut)

		_, p := catalogPropagator(t, 25544)
		o, err := orbit.NewObserver(48.15, 11.58, 520)
		require.NoError(t, err)
		from := time.Date(2026, 6, 27, 1, 41, 0, 250e6, time.UTC)
		sc := bufio.NewScanner(strings.NewReader(out))
		i := 0
		for ; sc.Scan(); i++ {
			var s lookSample
			require.NoError(t, json.Unmarshal(sc.Bytes(), &s))
			at := from.Add(time.Duration(i) * 15 * time.Second)
			want, err := o.Look(p, at)
			require.NoError(t, err)
			assert.Equal(t, at.Format(jsonTime), s.Time)
			assert.InDelta(t, want.AzimuthDeg, s.Az, 0.0005)
			assert.InDelta(t, want.ElevationDeg, s.El, 0.0005)
			assert.InDelta(t, want.RangeKm, s.RangeKm, 0.0005)
			assert.InDelta(t, want.RangeRateKmS, s.RangeRateKmS, 5e-7)
		}
		assert.Equal(t, 20, i, "--step %s", step)
	}
}

func TestLookTable(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, lookArgs("--step", "1s", "--count", "3")...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Contains(t, lines[0], "RANGE RATE (km/s)")
	assert.Contains(t, lines[1], "2026-06-27T01:41:00.250Z")
}

func TestLookRejectsBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no step", lookArgs("--count", "3"), `"step" not set`},
		{"no count", lookArgs("--step", "1s"), `"count" not set`},
		{"no norad", append([]string{"look", "--tle", catalogFile, "--from", "2026-06-27T00:00:00Z", "--step", "1s", "--count", "1"}, observerArgs...), `"norad" not set`},
		{"step zero", lookArgs("--step", "0s", "--count", "3"), "--step: \"0s\" is shorter than"},
		{"step negative", lookArgs("--step", "-5", "--count", "3"), "--step: \"-5\" is shorter than"},
		{"step garbage", lookArgs("--step", "soon", "--count", "3"), "--step: \"soon\" is neither"},
		{"step NaN", lookArgs("--step", "NaN", "--count", "3"), "--step: \"NaN\" is neither"},
		{"step huge", lookArgs("--step", "1e12", "--count", "3"), "--step: \"1e12\" is longer than"},
		{"count zero", lookArgs("--step", "1s", "--count", "0"), "--count: 0 is outside"},
		{"count huge", lookArgs("--step", "1s", "--count", "2000000"), "--count: 2000000 is outside"},
		{"norad absent", append(lookArgs("--step", "1s", "--count", "1"), "--norad", "99999"), "--norad: 99999 is not in"},
		{"norad zero", append(lookArgs("--step", "1s", "--count", "1"), "--norad", "0"), "--norad: 0 is not a catalog number"},
		{"latitude", append(lookArgs("--step", "1s", "--count", "1"), "--lat", "-90.5"), "--lat: -90.5 is outside"},
		{"from", append(lookArgs("--step", "1s", "--count", "1"), "--from", "2026-06-27"), "--from: \"2026-06-27\" is not an RFC 3339 time"},
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

// FuzzParseStep: --step comes from the operator; any text is either refused with an error
// naming the flag or gives a step of at least a millisecond.
func FuzzParseStep(f *testing.F) {
	for _, s := range []string{"10s", "0.5", "1e3", "-1", "NaN", "Inf", "1h2m", "", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseStep(s)
		if err != nil {
			require.Contains(t, err.Error(), "--step")
			return
		}
		require.GreaterOrEqual(t, d, minLookStep)
		require.LessOrEqual(t, d, maxLookStep)
	})
}
