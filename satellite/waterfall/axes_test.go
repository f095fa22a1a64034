package waterfall

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestAxesAreDrawn checks the PNG itself: a tick mark and a label above the plot at the column
// of 437.000 MHz (the centre) and of 437.010 MHz, a tick mark and a label left of the plot at the
// row of 10 s, and none where no tick belongs.
func TestAxesAreDrawn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "x.cf32"), filepath.Join(dir, "x.png")
	s := signal{rate: 48000, amp: 0.1, noise: 0.1, complex: true, seed: 8, freq: func(float64) float64 { return 0 }}
	writeRecording(t, in, encodingCF32, false, s, 48000*11)
	info, err := RenderFile(context.Background(), in, out, Options{CentreHz: 437e6, SampleRate: 48000, Height: 200})
	require.NoError(t, err)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	require.NoError(t, err)
	ink := palette()[paletteInk]
	isInk := func(x, y int) bool { return color.NRGBAModel.Convert(img.At(x, y)) == ink }
	inkIn := func(r image.Rectangle) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if isInk(x, y) {
					n++
				}
			}
		}
		return n
	}
	p := info.Plot
	for _, hz := range []float64{437e6, 437.01e6} {
		x := p.Min.X + int(math.Round((hz-info.FirstBinHz)/info.BinHz))
		for y := p.Min.Y - 1 - tickLength; y <= p.Min.Y-2; y++ {
			assert.Truef(t, isInk(x, y), "tick of %.0f Hz at (%d, %d)", hz, x, y)
		}
		label := image.Rect(x-28, p.Min.Y-1-tickLength-3-lineHeight, x+28, p.Min.Y-1-tickLength-3)
		assert.Greater(t, inkIn(label), 20, "label of %.0f Hz", hz)
	}
	assert.False(t, isInk(p.Min.X+512+53, p.Min.Y-3), "no tick between 437.000 and 437.005 MHz")

	y := p.Min.Y + int(math.Round(10/info.RowSeconds))
	for x := p.Min.X - 1 - tickLength; x <= p.Min.X-2; x++ {
		assert.Truef(t, isInk(x, y), "tick of 10 s at (%d, %d)", x, y)
	}
	assert.Greater(t, inkIn(image.Rect(0, y-lineHeight/2, p.Min.X-1-tickLength, y+lineHeight/2)), 10, "label of 10 s")
}
