package waterfall

import (
	"fmt"
	"image"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Text and layout metrics, in pixels (basicfont.Face7x13).
const (
	charWidth  = 7
	lineHeight = 13
	ascent     = 11
	tickLength = 5
	pad        = 6
	barWidth   = 12
	// Labels are at least this far apart: vertical axes one line plus a gap, horizontal ones
	// their text plus a gap.
	minVerticalGap = 2 * lineHeight
	labelGap       = 2 * charWidth
)

// canvas draws on a paletted image.
type canvas struct {
	img *image.Paletted
	ink *image.Uniform
}

// text draws s with its top-left corner at (x, y).
func (c canvas) text(x, y int, s string) {
	d := font.Drawer{Dst: c.img, Src: c.ink, Face: basicfont.Face7x13, Dot: fixed.P(x, y+ascent)}
	d.DrawString(s)
}

func (c canvas) hline(x0, x1, y int) {
	for x := x0; x <= x1; x++ {
		c.img.SetColorIndex(x, y, paletteInk)
	}
}

func (c canvas) vline(x, y0, y1 int) {
	for y := y0; y <= y1; y++ {
		c.img.SetColorIndex(x, y, paletteInk)
	}
}

// layoutAxes holds the ticks of the three axes and the margins they need.
type layoutAxes struct {
	freq, time, db           []tick
	left, top, right, bottom int
	freqUnit, timeUnit       string
	title, caption           []string // lines
}

// axesFor places the ticks and sizes the margins around a plot of info.Bins × info.Rows.
func axesFor(info Info) layoutAxes {
	fa := newFrequencyAxis(info)
	ft := fa.ticks(8*charWidth + labelGap)
	if w := maxLabel(ft)*charWidth + labelGap; w > 8*charWidth+labelGap {
		ft = fa.ticks(w)
	}
	ta := timeAxis{start: info.Start, rowSeconds: info.RowSeconds, rows: info.Rows}
	l := layoutAxes{
		freq: ft, time: ta.ticks(minVerticalGap), db: dbTicks(info.MinDB, info.MaxDB, info.Rows),
		freqUnit: fa.unit, timeUnit: ta.unit(),
	}
	l.left = pad + maxLabel(l.time)*charWidth + 3 + tickLength + 1
	l.right = 1 + 2*pad + barWidth + tickLength + 3 + maxLabel(l.db)*charWidth + pad
	titleParts := title(info)
	captionParts := []string{"down: time (" + l.timeUnit + ")", "across: frequency (" + l.freqUnit + ")",
		"colour: dB full scale"}
	// A narrow plot widens the right margin so that no part of the texts is cut.
	need := max(longest(titleParts), longest(captionParts))*charWidth + 2*pad
	l.right += max(0, need-(l.left+info.Bins+l.right))
	width := (l.left + info.Bins + l.right - 2*pad) / charWidth
	l.title, l.caption = wrap(titleParts, width), wrap(captionParts, width)
	l.top = pad + len(l.title)*lineHeight + pad + lineHeight + 3 + tickLength + 1
	l.bottom = 1 + pad + len(l.caption)*lineHeight + pad
	return l
}

func longest(parts []string) int {
	n := 0
	for _, p := range parts {
		n = max(n, len(p))
	}
	return n
}

func maxLabel(ts []tick) int {
	labels := make([]string, len(ts))
	for i, t := range ts {
		labels[i] = t.label
	}
	return longest(labels)
}

// dbTicks labels the colour bar, whose top row is hi dB and bottom row lo dB.
func dbTicks(lo, hi float64, rows int) []tick {
	step := niceStep((hi - lo) * minVerticalGap / float64(max(rows, 1)))
	var out []tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		y := int(math.Round((hi - v) / (hi - lo) * float64(rows-1)))
		out = append(out, tick{pos: y, label: formatTick(v, step)})
	}
	return out
}

// wrap breaks the parts of a title into lines of at most width characters, at the parts'
// boundaries (a part longer than a line gets a line of its own).
func wrap(parts []string, width int) []string {
	var lines []string
	for _, p := range parts {
		last := len(lines) - 1
		if last >= 0 && len(lines[last])+2+len(p) <= width {
			lines[last] += ", " + p
			continue
		}
		lines = append(lines, p)
	}
	return lines
}

// title is the text above the plot, in parts: what was recorded and how it was transformed.
func title(info Info) []string {
	parts := []string{string(info.Format)}
	if info.Complex && info.CentreHz > 0 {
		parts = append(parts, fmt.Sprintf("centre %.6f MHz", info.CentreHz/1e6))
	}
	parts = append(parts, fmt.Sprintf("%g S/s", info.SampleRate), fmt.Sprintf("FFT %d (%.4g Hz/bin)",
		info.FFTSize, info.BinHz), fmt.Sprintf("%d frames/row (%.4g s)", info.FramesPerRow, info.RowSeconds))
	if !info.Start.IsZero() {
		parts = append(parts, "start "+info.Start.UTC().Format("2006-01-02 15:04:05Z"))
	}
	return parts
}

// draw renders the spectrogram with its axes, colour bar and title, and records in info where
// the plot is: spectrogram row r, column j is pixel (Plot.Min.X+j, Plot.Min.Y+r).
func draw(s *spectrogram, info *Info) *image.Paletted {
	ax := axesFor(*info)
	w := ax.left + s.bins + ax.right
	h := ax.top + s.rows + ax.bottom
	img := image.NewPaletted(image.Rect(0, 0, w, h), palette())
	for i := range img.Pix {
		img.Pix[i] = paletteBackground
	}
	c := canvas{img: img, ink: image.NewUniform(img.Palette[paletteInk])}
	info.Plot = image.Rect(ax.left, ax.top, ax.left+s.bins, ax.top+s.rows)
	info.Width, info.Height = w, h
	for r := range s.rows {
		line := img.Pix[(ax.top+r)*img.Stride+ax.left:]
		for j, p := range s.row(r) {
			line[j] = level(p, info.MinDB, info.MaxDB)
		}
	}
	c.frame(info.Plot)
	c.frequencyTicks(info.Plot, ax)
	c.timeTicks(info.Plot, ax)
	c.colourBar(info.Plot, ax)
	for i, line := range ax.title {
		c.text(pad, pad+i*lineHeight, line)
	}
	for i, line := range ax.caption {
		c.text(pad, info.Plot.Max.Y+1+pad+i*lineHeight, line)
	}
	return img
}

// frame draws a one-pixel line just outside r.
func (c canvas) frame(r image.Rectangle) {
	c.hline(r.Min.X-1, r.Max.X, r.Min.Y-1)
	c.hline(r.Min.X-1, r.Max.X, r.Max.Y)
	c.vline(r.Min.X-1, r.Min.Y-1, r.Max.Y)
	c.vline(r.Max.X, r.Min.Y-1, r.Max.Y)
}

func (c canvas) frequencyTicks(plot image.Rectangle, ax layoutAxes) {
	for _, t := range ax.freq {
		x := plot.Min.X + t.pos
		c.vline(x, plot.Min.Y-1-tickLength, plot.Min.Y-2)
		c.text(x-len(t.label)*charWidth/2, plot.Min.Y-1-tickLength-3-lineHeight, t.label)
	}
}

func (c canvas) timeTicks(plot image.Rectangle, ax layoutAxes) {
	for _, t := range ax.time {
		y := plot.Min.Y + t.pos
		c.hline(plot.Min.X-1-tickLength, plot.Min.X-2, y)
		c.text(plot.Min.X-1-tickLength-3-len(t.label)*charWidth, y-lineHeight/2, t.label)
	}
}

// colourBar draws the scale right of the plot, brightest at the top, with dB labels.
func (c canvas) colourBar(plot image.Rectangle, ax layoutAxes) {
	x0 := plot.Max.X + 1 + 2*pad
	bar := image.Rect(x0, plot.Min.Y, x0+barWidth, plot.Max.Y)
	for y := bar.Min.Y; y < bar.Max.Y; y++ {
		lv := levels - 1 - (y-bar.Min.Y)*(levels-1)/max(bar.Dy()-1, 1)
		for x := bar.Min.X; x < bar.Max.X; x++ {
			c.img.SetColorIndex(x, y, uint8(lv))
		}
	}
	c.frame(bar)
	for _, t := range ax.db {
		y := bar.Min.Y + t.pos
		c.hline(bar.Max.X+1, bar.Max.X+tickLength, y)
		c.text(bar.Max.X+tickLength+3, y-lineHeight/2, t.label)
	}
}
