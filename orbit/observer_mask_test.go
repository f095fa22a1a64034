package orbit

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHorizonMaskInterpolates(t *testing.T) {
	t.Parallel()
	m, err := NewHorizonMask([]MaskPoint{{270, 20}, {90, 10}, {0, 0}, {180, 30}})
	require.NoError(t, err)
	lo, hi := m.Bounds()
	assert.Equal(t, 0.0, lo)
	assert.Equal(t, 30.0, hi)
	tests := []struct{ az, want float64 }{
		{0, 0}, {45, 5}, {90, 10}, {135, 20}, {180, 30}, {225, 25}, {270, 20},
		{315, 10}, {359.9, 20 * 0.1 / 90}, {360, 0}, {-45, 10}, {405, 5},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, m.MinElevation(tc.az), 1e-9, "az %g", tc.az)
	}
	assert.Equal(t, []MaskPoint{{0, 0}, {90, 10}, {180, 30}, {270, 20}}, m.Points())
}

func TestHorizonMaskWrapsThroughNorth(t *testing.T) {
	t.Parallel()
	// Points at 10° and 350° only: the segment through north runs from 350° to 10°.
	m, err := NewHorizonMask([]MaskPoint{{10, 4}, {350, 2}})
	require.NoError(t, err)
	assert.InDelta(t, 3, m.MinElevation(0), 1e-9)
	assert.InDelta(t, 2.5, m.MinElevation(355), 1e-9)
	assert.InDelta(t, 3.5, m.MinElevation(5), 1e-9)
	assert.InDelta(t, 3, m.MinElevation(180), 1e-9)
	one, err := NewHorizonMask([]MaskPoint{{123, 7}})
	require.NoError(t, err)
	assert.Equal(t, 7.0, one.MinElevation(0))
}

func TestHorizonMaskValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		points  []MaskPoint
		wantErr string
	}{
		{"empty", nil, "no points"},
		{"azimuth 360", []MaskPoint{{360, 0}}, "azimuth 360"},
		{"azimuth negative", []MaskPoint{{-1, 0}}, "azimuth -1"},
		{"azimuth NaN", []MaskPoint{{math.NaN(), 0}}, "azimuth NaN"},
		{"elevation too high", []MaskPoint{{0, 91}}, "elevation 91"},
		{"duplicate azimuth", []MaskPoint{{10, 1}, {10, 2}}, "two points at azimuth 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHorizonMask(tc.points)
			require.ErrorIs(t, err, ErrInvalidObserver)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// FuzzHorizonMask feeds arbitrary points (a mask comes from a station's configuration): the
// constructor either refuses them with ErrInvalidObserver or builds a mask whose interpolated
// value stays within its bounds at every azimuth, without panicking.
func FuzzHorizonMask(f *testing.F) {
	f.Add(0.0, 5.0, 90.0, 10.0, 270.0, 2.0, 123.4)
	f.Add(359.999, 89.0, 0.0, -5.0, 0.0, 1.0, -720.5)
	f.Add(math.NaN(), 0.0, 10.0, 0.0, 20.0, 0.0, math.Inf(1))
	f.Fuzz(func(t *testing.T, az1, el1, az2, el2, az3, el3, query float64) {
		m, err := NewHorizonMask([]MaskPoint{{az1, el1}, {az2, el2}, {az3, el3}})
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidObserver)
			return
		}
		if math.IsNaN(query) || math.IsInf(query, 0) {
			return
		}
		lo, hi := m.Bounds()
		got := m.MinElevation(query)
		require.GreaterOrEqual(t, got, lo-1e-9)
		require.LessOrEqual(t, got, hi+1e-9)
	})
}
