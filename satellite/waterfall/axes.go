package waterfall

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// tick is one labelled mark of an axis, at pos pixels from the start of the plot.
type tick struct {
	pos   int
	label string
}

// niceStep returns the smallest 1, 2 or 5 × 10^k that is at least x.
func niceStep(x float64) float64 {
	if x <= 0 || !finite(x) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// decimals is how many decimals tell apart labels a step apart.
func decimals(step float64) int {
	return max(0, int(-math.Floor(math.Log10(step)+1e-9)))
}

// formatTick formats a tick value with the decimals its step needs, and zero as "0", not "-0".
func formatTick(v, step float64) string {
	if math.Abs(v) < step*1e-9 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', decimals(step), 64)
}

// frequencyAxis describes the frequency across the plot: column j is at first + j·binHz, in the
// axis's unit after dividing by scale.
type frequencyAxis struct {
	first, binHz float64
	scale        float64 // Hz per unit: 1e6 for MHz, 1e3 for kHz
	unit         string
	columns      int
}

func newFrequencyAxis(info Info) frequencyAxis {
	a := frequencyAxis{first: info.FirstBinHz, binHz: info.BinHz, scale: 1e3, columns: info.Bins}
	switch {
	case !info.Complex:
		a.unit = "kHz"
	case info.CentreHz > 0:
		a.scale, a.unit = 1e6, "MHz"
	default:
		a.unit = "kHz offset from centre"
	}
	return a
}

// ticks places labels at least minGap pixels apart.
func (a frequencyAxis) ticks(minGap int) []tick {
	lo, hi := a.first/a.scale, (a.first+float64(a.columns-1)*a.binHz)/a.scale
	step := niceStep((hi - lo) * float64(minGap) / float64(a.columns))
	var out []tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		x := int(math.Round((v*a.scale - a.first) / a.binHz))
		out = append(out, tick{pos: x, label: formatTick(v, step)})
	}
	return out
}

// timeSteps are the tick steps of the time axis at a minute and longer, in seconds.
var timeSteps = []float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// timeAxis describes time down the plot: row r starts rowSeconds·r after start.
type timeAxis struct {
	start      time.Time
	rowSeconds float64
	rows       int
}

func (a timeAxis) unit() string {
	if a.start.IsZero() {
		return "s"
	}
	return "UTC"
}

// ticks places labels at least minGap pixels apart: round seconds (or minutes) from the start,
// or round clock times when the start is known.
func (a timeAxis) ticks(minGap int) []tick {
	total := a.rowSeconds * float64(a.rows)
	step := niceStep(a.rowSeconds * float64(minGap))
	if step > 30 {
		step = timeSteps[len(timeSteps)-1]
		for _, s := range timeSteps {
			if s >= a.rowSeconds*float64(minGap) {
				step = s
				break
			}
		}
	}
	var origin float64 // the start as seconds of the clock, so ticks fall on round times
	if !a.start.IsZero() {
		origin = float64(a.start.UnixNano()%int64(86400*time.Second)) / 1e9
	}
	var out []tick
	for v := math.Ceil(origin/step) * step; v-origin <= total*(1+1e-9); v += step {
		y := int(math.Round((v - origin) / a.rowSeconds))
		out = append(out, tick{pos: y, label: a.label(v-origin, step)})
	}
	return out
}

func (a timeAxis) label(offset, step float64) string {
	d := decimals(step)
	if a.start.IsZero() {
		return strconv.FormatFloat(offset, 'f', d, 64)
	}
	t := a.start.Add(time.Duration(offset * float64(time.Second))).UTC()
	t = t.Round(time.Duration(step * float64(time.Second))) // no 10:00:04.999 from rounding errors
	if d == 0 {
		return t.Format("15:04:05")
	}
	return t.Format("15:04:05." + fmt.Sprintf("%0*d", d, 0))
}
