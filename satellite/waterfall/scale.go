package waterfall

import (
	"math"
	"slices"
)

// The auto range: the colour scale runs from the lowPercentile to the highPercentile of the
// spectrogram's cells, and spans at least minSpanDB. The low end sits just below the noise
// floor, so noise shows as a dark texture rather than black; the high end ignores the brightest
// 0.05 % (a DC spike, a burst of interference) so one strong cell cannot wash the rest out. A
// steady carrier fills one column of 1024, about 0.1 % of the cells, and so reaches the top.
// The minimum span keeps a recording of pure noise from being stretched into false contrast; the
// maximum keeps a noiseless (synthetic) recording from showing rounding errors 200 dB down.
const (
	lowPercentile  = 10
	highPercentile = 99.95
	minSpanDB      = 20
	maxSpanDB      = 100
)

// floorPower is the smallest power shown (−300 dB): a digital silence must not give −Inf.
const floorPower = 1e-30

// decibels converts a power relative to full scale to dB.
func decibels(p float32) float64 { return 10 * math.Log10(math.Max(float64(p), floorPower)) }

// autoRange picks the colour scale of a spectrogram (see lowPercentile).
func autoRange(power []float32) (lo, hi float64) {
	sorted := slices.Clone(power)
	slices.Sort(sorted)
	lo = decibels(percentile(sorted, lowPercentile))
	hi = decibels(percentile(sorted, highPercentile))
	return math.Max(lo, hi-maxSpanDB), math.Max(hi, lo+minSpanDB)
}

// percentile returns the p-th percentile (nearest rank) of sorted values.
func percentile(sorted []float32, p float64) float32 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// level maps a power to a colour level 0..levels-1 between lo and hi dB, clipping outside.
func level(p float32, lo, hi float64) uint8 {
	x := (decibels(p) - lo) / (hi - lo)
	return uint8(math.Round(math.Min(math.Max(x, 0), 1) * (levels - 1)))
}
