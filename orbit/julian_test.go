package orbit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestJulianDateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
		day  float64
		frac float64
	}{
		{"J2000 noon", time.Date(2000, 1, 1, 12, 0, 0, 0, time.UTC), 2451544.5, 0.5},
		{"unix epoch", time.Unix(0, 0), 2440587.5, 0},
		{"before 1970", time.Date(1957, 10, 4, 19, 28, 34, 0, time.UTC), 2436115.5, (19*3600 + 28*60 + 34) / 86400.0},
		{"other zone, same instant", time.Date(2026, 6, 26, 2, 0, 0, 0, time.FixedZone("UTC+3", 3*3600)), 2461216.5, 23.0 / 24},
		{"nanoseconds", time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC), 2461041.5, 1e-9 / 86400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jd := JulianDateOf(tc.at)
			assert.Equal(t, tc.day, jd.Day)
			assert.InDelta(t, tc.frac, jd.Frac, 1e-17)
			assert.GreaterOrEqual(t, jd.Frac, 0.0)
			assert.Less(t, jd.Frac, 1.0)
			back := jd.Time()
			assert.InDelta(t, 0, back.Sub(tc.at).Nanoseconds(), 2, "round trip")
		})
	}
}

// TestMinutesSinceKeepsSubMicrosecond is why the Julian date has two parts: one float64 near
// 2.46 million days resolves only ~40 µs.
func TestMinutesSinceKeepsSubMicrosecond(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 6, 26, 12, 34, 56, 789012345, time.UTC)
	for _, d := range []time.Duration{time.Microsecond, 500 * time.Millisecond, 36*time.Hour + 1, -20 * 24 * time.Hour, 30 * 365 * 24 * time.Hour} {
		got := JulianDateOf(epoch.Add(d)).MinutesSince(JulianDateOf(epoch))
		assert.InDelta(t, d.Minutes(), got, 1e-9/60, "%v", d) // within a nanosecond
	}
}
