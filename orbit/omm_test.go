package orbit

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireSameElements checks that an OMM-derived set equals the TLE-derived one and propagates
// to the same state.
func requireSameElements(t *testing.T, want, got *ElementSet) {
	t.Helper()
	assert.Equal(t, want.NORADID, got.NORADID)
	assert.Equal(t, want.Name, got.Name)
	assert.Equal(t, want.IntlDesignator, got.IntlDesignator)
	assert.Equal(t, want.Classification, got.Classification)
	assert.True(t, want.Epoch.Equal(got.Epoch), "epoch %v vs %v", want.Epoch, got.Epoch)
	assert.InDelta(t, want.EpochJD.Day+want.EpochJD.Frac, got.EpochJD.Day+got.EpochJD.Frac, 1e-9)
	for _, pair := range [][2]float64{
		{want.MeanMotion, got.MeanMotion}, {want.Eccentricity, got.Eccentricity},
		{want.Inclination, got.Inclination}, {want.RAAN, got.RAAN},
		{want.ArgPerigee, got.ArgPerigee}, {want.MeanAnomaly, got.MeanAnomaly},
		{want.BStar, got.BStar}, {want.MeanMotionDot, got.MeanMotionDot},
		{want.MeanMotionDDot, got.MeanMotionDDot},
	} {
		assert.InDelta(t, pair[0], pair[1], 1e-15)
	}
	assert.Equal(t, want.ElementSetNo, got.ElementSetNo)
	assert.Equal(t, want.RevAtEpoch, got.RevAtEpoch)

	pw, err := NewPropagator(want)
	require.NoError(t, err)
	pg, err := NewPropagator(got)
	require.NoError(t, err)
	rw, _, err := pw.Propagate(want.Epoch.Add(90 * 60e9))
	require.NoError(t, err)
	rg, _, err := pg.Propagate(want.Epoch.Add(90 * 60e9))
	require.NoError(t, err)
	assert.Less(t, rw.Sub(rg).Norm(), 1e-9, "km")
}

func TestParseOMMJSONMatchesTLE(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/omm-iss.json")
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read-only: a close error changes nothing
	sets, err := ParseOMMJSON(f)
	require.NoError(t, err)
	require.Len(t, sets, 2)
	iss, err := ParseTLE(issName, issLine1, issLine2)
	require.NoError(t, err)
	requireSameElements(t, iss, sets[0])

	les5, err := ParseTLE("LES-5",
		"1 02866U 67066E   26177.94438318 -.00000053  00000+0  00000+0 0  9997",
		"2 02866   2.6457  96.0605 0051806 214.1796 272.2684  1.09425326131147")
	require.NoError(t, err)
	// the string-valued (Space-Track style) object gives the same set
	requireSameElements(t, les5, sets[1])
}

func TestParseOMMJSONSingleObject(t *testing.T) {
	t.Parallel()
	obj := `{"OBJECT_NAME":"ISS (ZARYA)","OBJECT_ID":"1998-067A","EPOCH":"2008-264T12:25:40.104192Z",
	"MEAN_MOTION":15.72125391,"ECCENTRICITY":0.0006703,"INCLINATION":51.6416,"RA_OF_ASC_NODE":247.4627,
	"ARG_OF_PERICENTER":130.536,"MEAN_ANOMALY":325.0288,"NORAD_CAT_ID":25544,"BSTAR":-1.1606e-5}`
	sets, err := ParseOMMJSON(strings.NewReader(obj))
	require.NoError(t, err)
	require.Len(t, sets, 1)
	iss, err := ParseTLE(issName, issLine1, issLine2)
	require.NoError(t, err)
	assert.True(t, iss.Epoch.Equal(sets[0].Epoch))
	assert.Equal(t, byte('U'), sets[0].Classification)
}

func TestParseOMMKVNMatchesTLE(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/omm-iss.kvn")
	require.NoError(t, err)
	iss, err := ParseTLE(issName, issLine1, issLine2)
	require.NoError(t, err)

	sets, err := ParseOMMKVN(strings.NewReader(string(data)))
	require.NoError(t, err)
	require.Len(t, sets, 1)
	requireSameElements(t, iss, sets[0])

	// two messages back to back, with CRLF line ends
	two := strings.ReplaceAll(string(data)+string(data), "\n", "\r\n")
	sets, err = ParseOMMKVN(strings.NewReader(two))
	require.NoError(t, err)
	require.Len(t, sets, 2)
}

const ommBase = `{"OBJECT_NAME":"X","OBJECT_ID":"1998-067A","EPOCH":"2008-09-20T12:25:40.104192",
"MEAN_MOTION":15.72125391,"ECCENTRICITY":0.0006703,"INCLINATION":51.6416,"RA_OF_ASC_NODE":247.4627,
"ARG_OF_PERICENTER":130.536,"MEAN_ANOMALY":325.0288,"NORAD_CAT_ID":25544,"BSTAR":-1.1606e-5`

func TestParseOMMJSONErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		is             error
	}{
		{"empty", "", "empty input", nil},
		{"not json", "hello", "not an array or object", nil},
		{"array of numbers", "[1,2]", "element 0: not an object", nil},
		{"missing epoch", strings.Replace(ommBase, `"EPOCH"`, `"EPOCHX"`, 1) + "}", "EPOCH: required keyword missing", ErrOMMMissing},
		{"missing bstar", strings.Replace(ommBase, `"BSTAR"`, `"B"`, 1) + "}", "BSTAR", ErrOMMMissing},
		{"bad epoch", strings.Replace(ommBase, "2008-09-20T", "2008-13-20T", 1) + "}", "EPOCH", ErrFieldSyntax},
		{"nan", strings.Replace(ommBase, `"ECCENTRICITY":0.0006703`, `"ECCENTRICITY":"NaN"`, 1) + "}", "ECCENTRICITY", ErrFieldSyntax},
		{"ecc range", strings.Replace(ommBase, `"ECCENTRICITY":0.0006703`, `"ECCENTRICITY":1.5`, 1) + "}", "eccentricity", ErrFieldRange},
		{"negative norad", strings.Replace(ommBase, `25544`, `-5`, 1) + "}", "NORAD_CAT_ID", ErrFieldSyntax},
		{"huge norad", strings.Replace(ommBase, `25544`, `12345678901`, 1) + "}", "NORAD_CAT_ID", ErrFieldRange},
		{"frame", ommBase + `,"REF_FRAME":"GCRF"}`, "REF_FRAME", ErrUnsupported},
		{"theory", ommBase + `,"MEAN_ELEMENT_THEORY":"SGP4-XP"}`, "MEAN_ELEMENT_THEORY", ErrUnsupported},
		{"ephemeris type", ommBase + `,"EPHEMERIS_TYPE":4}`, "EPHEMERIS_TYPE", ErrUnsupported},
		{"classification", ommBase + `,"CLASSIFICATION_TYPE":"Q"}`, "CLASSIFICATION_TYPE", ErrFieldSyntax},
		{"object id", strings.Replace(ommBase, "1998-067A", "1998-06!A", 1) + "}", "OBJECT_ID", ErrFieldSyntax},
		{"second element", "[" + ommBase + "}," + strings.Replace(ommBase, "51.6416", "-3", 1) + "}]", "element 1: inclination", ErrFieldRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sets, err := ParseOMMJSON(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Nil(t, sets)
			assert.ErrorContains(t, err, "omm json")
			assert.ErrorContains(t, err, tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestParseOMMKVNErrors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/omm-iss.kvn")
	require.NoError(t, err)
	base := string(data)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no message"},
		{"no equals", base + "GARBAGE\n", "line 26: malformed value"},
		{"repeated", base + "EPOCH = 2008-09-20T12:25:40\n", "line 26: EPOCH: keyword repeated"},
		{"bad value", strings.Replace(base, "0.0006703", "0.00067x3", 1), "message at line 1: ECCENTRICITY"},
		{"frame", strings.Replace(base, "TEME", "ITRF", 1), "REF_FRAME: unsupported value"},
		{"time system", strings.Replace(base, "= UTC", "= TAI", 1), "TIME_SYSTEM"},
		{"missing", strings.Replace(base, "MEAN_ANOMALY", "MEAN_ANOMALIE", 1), "MEAN_ANOMALY: required keyword missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sets, err := ParseOMMKVN(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Nil(t, sets)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
