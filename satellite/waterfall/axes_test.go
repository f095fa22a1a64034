package waterfall

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNiceStep(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.1: 2, 4.9: 5, 7: 10, 0.0012: 0.002, 150: 200} {
		assert.InDelta(t, want, niceStep(in), want*1e-12, "niceStep(%v)", in)
	}
}

func labels(ts []tick) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.label
	}
	return out
}

func TestFrequencyTicks(t *testing.T) {
	t.Parallel()
	// 48 kS/s around 437 MHz in 1024 columns: MHz labels every 5 kHz, at their columns.
	info := Info{Input: Input{Complex: true, CentreHz: 437e6, SampleRate: 48000}, Bins: 1024,
		BinHz: 46.875, FirstBinHz: 437e6 - 24000}
	a := newFrequencyAxis(info)
	assert.Equal(t, "MHz", a.unit)
	ts := a.ticks(70)
	assert.Equal(t, []string{"436.980", "436.985", "436.990", "436.995", "437.000", "437.005", "437.010",
		"437.015", "437.020"}, labels(ts))
	assert.Equal(t, 512, ts[4].pos, "437.000 MHz is the centre column")

	info.CentreHz, info.FirstBinHz = 0, -24000
	a = newFrequencyAxis(info)
	assert.Equal(t, "kHz offset from centre", a.unit)
	assert.Equal(t, []string{"-20", "-10", "0", "10", "20"}, labels(a.ticks(150)))

	audio := Info{Input: Input{SampleRate: 11025}, Bins: 257, BinHz: 11025.0 / 512}
	a = newFrequencyAxis(audio)
	assert.Equal(t, "kHz", a.unit)
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "5"}, labels(a.ticks(40)))
}

func TestTimeTicks(t *testing.T) {
	t.Parallel()
	// 600 rows of 1 s: labels every 30 s or more, in seconds from the start.
	a := timeAxis{rowSeconds: 1, rows: 600}
	assert.Equal(t, "s", a.unit())
	ts := a.ticks(26)
	assert.Equal(t, "0", ts[0].label)
	assert.Equal(t, "60", ts[1].label)
	assert.Equal(t, 60, ts[1].pos)

	// With a start, ticks fall on round UTC times.
	a.start = time.Date(2026, 6, 27, 1, 36, 22, 0, time.UTC)
	assert.Equal(t, "UTC", a.unit())
	ts = a.ticks(26)
	assert.Equal(t, "01:37:00", ts[0].label)
	assert.Equal(t, 38, ts[0].pos)
	assert.Equal(t, "01:38:00", ts[1].label)

	// Sub-second rows get decimals.
	a = timeAxis{start: a.start, rowSeconds: 0.01, rows: 300}
	assert.Equal(t, "01:36:22.5", a.ticks(26)[1].label)
}

func TestDBTicks(t *testing.T) {
	t.Parallel()
	ts := dbTicks(-0.5, 19.5, 201) // the first tick is math.Ceil(-0.1) × 5 = -0
	assert.Equal(t, []string{"0", "5", "10", "15"}, labels(ts), "zero is 0, not -0")
	assert.Equal(t, 195, ts[0].pos, "0 dB is 0.5 dB above the bottom row (200)")
	assert.Equal(t, 95, ts[2].pos)
}
