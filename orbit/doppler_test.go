package orbit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDoppler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		f, rr     float64 // Hz, km/s
		wantDown  float64 // Hz
		wantShift float64 // Hz
	}{
		{"at rest", 437e6, 0, 437e6, 0},
		// Approaching at 7 km/s: +437e6·7/299792.458 = +10203.73 Hz.
		{"approaching", 437e6, -7, 437e6 + 437e6*7/299792.458, 437e6 * 7 / 299792.458},
		{"receding", 2.2e9, 5, 2.2e9 * (1 - 5/299792.458), -2.2e9 * 5 / 299792.458},
		// c itself: the received frequency is zero.
		{"at the speed of light", 1e6, SpeedOfLightKmS, 0, -1e6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.InDelta(t, tc.wantDown, DownlinkFrequency(tc.f, tc.rr), 1e-6)
			assert.InDelta(t, tc.wantShift, DopplerShift(tc.f, tc.rr), 1e-6)
			if tc.rr < SpeedOfLightKmS {
				// What the station transmits, the spacecraft receives as f.
				up := UplinkFrequency(tc.f, tc.rr)
				assert.InDelta(t, tc.f, DownlinkFrequency(up, tc.rr), 1e-6)
			}
		})
	}
	assert.InDelta(t, 10203.73, DopplerShift(437e6, -7), 0.01)
}
