package waterfall

import (
	"image/color"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestColormapIsPerceptuallyOrdered: every level is lighter than the one below it, so more power
// always reads as brighter (also in greyscale), and the scale spans most of the lightness range.
func TestColormapIsPerceptuallyOrdered(t *testing.T) {
	t.Parallel()
	m := Colormap()
	require.Len(t, m, levels)
	distinct := map[color.NRGBA]bool{m[0]: true}
	for i := 1; i < len(m); i++ {
		require.GreaterOrEqualf(t, lightness(m[i]), lightness(m[i-1]), "level %d %v is darker than %d %v",
			i, m[i], i-1, m[i-1])
		distinct[m[i]] = true
	}
	t.Logf("%d distinct colours of %d levels", len(distinct), len(m))
	assert.GreaterOrEqual(t, len(distinct), levels*9/10, "8-bit rounding merges few levels")
	assert.Greater(t, lightness(m[len(m)-1])-lightness(m[0]), 70.0)
	p := palette()
	assert.Len(t, p, levels+2, "the colour levels, background and ink fit a PNG palette")
	for i, c := range m {
		assert.NotEqual(t, p[paletteBackground], c, "level %d", i)
		assert.NotEqual(t, p[paletteInk], c, "level %d", i)
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	assert.Equal(t, uint8(0), level(1e-9, -60, -20), "below the range clips to the bottom")
	assert.Equal(t, uint8(levels-1), level(1, -60, -20), "above clips to the top")
	assert.Equal(t, uint8(188), level(float32(math.Pow(10, -3.0)), -60, -20), "−30 dB is 3/4 up: 0.75 × 251")
	assert.Equal(t, uint8(0), level(0, -60, -20), "digital silence")
}

// TestAutoRange: the scale runs from the noise floor's low percentile to the strong signal, and
// spans at least minSpanDB for flat noise.
func TestAutoRange(t *testing.T) {
	t.Parallel()
	power := make([]float32, 100000)
	for i := range power {
		power[i] = float32(math.Pow(10, (-60+float64(i%10))/10)) // noise from −60 to −51 dB
	}
	for i := 5; i < len(power); i += 500 {
		power[i] = 1e-2 // a carrier at −20 dB in 0.2 % of the cells
	}
	lo, hi := autoRange(power)
	assert.InDelta(t, -60, lo, 0.01)
	assert.InDelta(t, -20, hi, 0.01)

	lo, hi = autoRange(power[10:500]) // noise only
	assert.InDelta(t, -60, lo, 0.01)
	assert.InDelta(t, lo+minSpanDB, hi, 0.01)

	clean := []float32{1e-30, 1e-30, 1e-30, 1e-30, 1e-30, 1e-30, 1e-30, 1e-30, 1e-30, 1, 1}
	lo, hi = autoRange(clean) // a noiseless tone: no rounding errors 300 dB down
	assert.InDelta(t, 0, hi, 0.01)
	assert.InDelta(t, -maxSpanDB, lo, 0.01)
}
