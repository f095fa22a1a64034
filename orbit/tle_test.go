package orbit

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	issName  = "ISS (ZARYA)"
	issLine1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
	issLine2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
)

func TestParseTLEFields(t *testing.T) {
	t.Parallel()
	es, err := ParseTLE(issName, issLine1, issLine2)
	require.NoError(t, err)
	assert.Equal(t, 25544, es.NORADID)
	assert.Equal(t, issName, es.Name)
	assert.Equal(t, "98067A", es.IntlDesignator)
	assert.Equal(t, byte('U'), es.Classification)
	// day 264.51782528 of 2008: 2008-09-20 + 0.51782528 d = 12:25:40.104192 exactly
	assert.Equal(t, time.Date(2008, 9, 20, 12, 25, 40, 104192000, time.UTC), es.Epoch)
	assert.Equal(t, 2454729.5, es.EpochJD.Day)
	assert.InDelta(t, 0.51782528, es.EpochJD.Frac, 1e-16)
	assert.InDelta(t, -0.00002182, es.MeanMotionDot, 1e-18)
	assert.Zero(t, es.MeanMotionDDot)
	assert.InDelta(t, -0.11606e-4, es.BStar, 1e-18)
	assert.Equal(t, 292, es.ElementSetNo)
	assert.InDelta(t, 51.6416, es.Inclination, 1e-12)
	assert.InDelta(t, 247.4627, es.RAAN, 1e-12)
	assert.InDelta(t, 0.0006703, es.Eccentricity, 1e-16)
	assert.InDelta(t, 130.5360, es.ArgPerigee, 1e-12)
	assert.InDelta(t, 325.0288, es.MeanAnomaly, 1e-12)
	assert.InDelta(t, 15.72125391, es.MeanMotion, 1e-12)
	assert.Equal(t, 56353, es.RevAtEpoch)
}

func TestParseTLETolerance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, n, l1, l2 string
		wantName        string
	}{
		{"two-line", "", issLine1, issLine2, ""},
		{"CRLF and trailing blanks", issName + " \r", issLine1 + "  \r", issLine2 + "\r\n", issName},
		{"3LE name prefix", "0 " + issName, issLine1, issLine2, issName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es, err := ParseTLE(tc.n, tc.l1, tc.l2)
			require.NoError(t, err)
			assert.Equal(t, tc.wantName, es.Name)
			assert.Equal(t, 25544, es.NORADID)
		})
	}
}

func TestParseTLEAlpha5(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cat  string
		want int
	}{
		{"A0000", 100000}, {"H9999", 179999}, {"J0000", 180000}, {"N1234", 221234},
		{"P0000", 230000}, {"Z9999", 339999}, {"99999", 99999}, {"00005", 5},
	}
	for _, tc := range tests {
		t.Run(tc.cat, func(t *testing.T) {
			t.Parallel()
			l1 := withChecksum(issLine1[:2] + tc.cat + issLine1[7:])
			l2 := withChecksum(issLine2[:2] + tc.cat + issLine2[7:])
			es, err := ParseTLE("", l1, l2)
			require.NoError(t, err)
			assert.Equal(t, tc.want, es.NORADID)
		})
	}
	for _, bad := range []string{"I0000", "O0000", "a0000", "A 000", "-1234"} {
		l1 := withChecksum(issLine1[:2] + bad + issLine1[7:])
		l2 := withChecksum(issLine2[:2] + bad + issLine2[7:])
		_, err := ParseTLE("", l1, l2)
		assert.ErrorContains(t, err, "tle line 1: catalog number", bad)
	}
}

// edit replaces columns from..to (1-based, inclusive) and fixes the checksum.
func edit(line string, from int, repl string) string {
	return withChecksum(line[:from-1] + repl + line[from-1+len(repl):])
}

func TestParseTLEErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		l1, l2 string
		want   string
		is     error
	}{
		{"short line", issLine1[:60], issLine2, "tle line 1: line must be 69 columns", ErrTLELength},
		{"bad checksum", issLine1[:68] + "0", issLine2, "tle line 1: checksum", ErrTLEChecksum},
		{"line number", issLine1, edit(issLine2, 1, "3"), "tle line 2: wrong line number", ErrTLELineNumber},
		{"swapped", issLine2, issLine1, "tle line 1: wrong line number", ErrTLELineNumber},
		{"catalog mismatch", issLine1, edit(issLine2, 3, "25545"), "tle line 2: catalog number", ErrTLECatalogMismatch},
		{"classification", edit(issLine1, 8, "X"), issLine2, "tle line 1: classification", ErrFieldSyntax},
		{"designator", edit(issLine1, 10, "9A067A  "), issLine2, "tle line 1: international designator", ErrFieldSyntax},
		{"epoch day 0", edit(issLine1, 21, "000.51782528"), issLine2, "tle line 1: epoch day", ErrFieldRange},
		{"epoch day 366 in 2007", edit(edit(issLine1, 19, "07"), 21, "366.51782528"), issLine2, "epoch day", ErrFieldRange},
		{"epoch syntax", edit(issLine1, 21, "264x51782528"), issLine2, "tle line 1: epoch day", ErrFieldSyntax},
		{"ndot", edit(issLine1, 34, "-.0000x182"), issLine2, "tle line 1: mean motion dot", ErrFieldSyntax},
		{"ndot NaN", edit(issLine1, 34, "       NaN"), issLine2, "tle line 1: mean motion dot", ErrFieldSyntax},
		{"nddot", edit(issLine1, 45, " 0000-+0"), issLine2, "tle line 1: mean motion ddot", ErrFieldSyntax},
		{"bstar", edit(issLine1, 54, "-11606x4"), issLine2, "tle line 1: bstar", ErrFieldSyntax},
		{"ephemeris type", edit(issLine1, 63, "x"), issLine2, "tle line 1: ephemeris type", ErrFieldSyntax},
		{"SGP4-XP set", edit(issLine1, 63, "4"), issLine2, "tle line 1: ephemeris type", ErrUnsupported},
		{"element number", edit(issLine1, 65, " 2x2"), issLine2, "tle line 1: element set number", ErrFieldSyntax},
		{"inclination syntax", issLine1, edit(issLine2, 9, " 51.64.6"), "tle line 2: inclination", ErrFieldSyntax},
		{"inclination range", issLine1, edit(issLine2, 9, "181.6416"), "inclination", ErrFieldRange},
		{"raan range", issLine1, edit(issLine2, 18, "361.4627"), "raan", ErrFieldRange},
		{"eccentricity", issLine1, edit(issLine2, 27, "00067-3"), "tle line 2: eccentricity", ErrFieldSyntax},
		{"arg perigee", issLine1, edit(issLine2, 35, "130.5.60"), "tle line 2: argument of perigee", ErrFieldSyntax},
		{"mean anomaly", issLine1, edit(issLine2, 44, "+Inf    "), "tle line 2: mean anomaly", ErrFieldSyntax},
		{"mean motion zero", issLine1, edit(issLine2, 53, " 0.00000000"), "mean motion", ErrFieldRange},
		{"mean motion", issLine1, edit(issLine2, 53, "15.7212539x"), "tle line 2: mean motion", ErrFieldSyntax},
		{"rev number", issLine1, edit(issLine2, 64, "5635x"), "tle line 2: revolution number", ErrFieldSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es, err := ParseTLE("", tc.l1, tc.l2)
			require.Error(t, err)
			assert.Nil(t, es)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorIs(t, err, tc.is)
		})
	}
}

func TestParseTLEsCatalog(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/celestrak-active-2026-177.tle")
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read-only: a close error changes nothing
	sets, err := ParseTLEs(f)
	require.NoError(t, err)
	require.Len(t, sets, 571)
	assert.Equal(t, "CALSPHERE 1", sets[0].Name)
	assert.Equal(t, 900, sets[0].NORADID)
	for _, es := range sets {
		assert.NotEmpty(t, es.Name, "norad %d", es.NORADID)
	}
}

func TestParseTLEsMixedFormsAndErrors(t *testing.T) {
	t.Parallel()
	good := strings.Join([]string{
		"# comment", issLine1, issLine2, "", issName, issLine1, issLine2,
	}, "\n")
	sets, err := ParseTLEs(strings.NewReader(good))
	require.NoError(t, err)
	require.Len(t, sets, 2)
	assert.Empty(t, sets[0].Name)
	assert.Equal(t, issName, sets[1].Name)

	tests := []struct {
		name, in, want string
	}{
		{"bad entry reports its line", issName + "\n" + issLine1 + "\n" + issLine2 + "\nX\n" + issLine1 + "\n" + edit(issLine2, 27, "00067-3"),
			"entry at line 4: tle line 2: eccentricity"},
		{"truncated", issName + "\n" + issLine1, "line 1: incomplete element set"},
		{"garbage", "a\nb\nc", "line 2"},
		{"line too long", strings.Repeat("x", 5000), "token too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTLEs(strings.NewReader(tc.in))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPropagationErrorIs(t *testing.T) {
	t.Parallel()
	for code := 1; code <= 6; code++ {
		err := error(&PropagationError{Code: code, Minutes: 1})
		assert.True(t, errors.Is(err, codeErrors[code]))
		assert.Equal(t, code, ErrorCode(err))
		assert.Contains(t, err.Error(), "sgp4 error")
	}
	assert.Zero(t, ErrorCode(errors.New("other")))
	assert.Contains(t, (&PropagationError{Code: 9}).Error(), "unknown")
}
