package waterfall

import (
	"image/color"
	"math"
)

// levels is the number of colours of the scale; the rest of the 256-entry PNG palette holds
// the background and the ink of axes and labels.
const levels = 252

// Palette indices after the colour levels.
const (
	paletteBackground = levels
	paletteInk        = levels + 1
)

// anchors are nine points of the viridis colour map (van der Walt and Smith, for matplotlib;
// CC0), from dark to bright. Between them the scale is interpolated linearly in sRGB. Viridis
// rises steadily in lightness, so a brighter colour always means more power, for readers with
// colour-blindness too and in greyscale print; a rainbow map would draw false edges.
var anchors = [...]color.NRGBA{
	{0x44, 0x01, 0x54, 0xff}, {0x47, 0x2d, 0x7b, 0xff}, {0x3b, 0x52, 0x8b, 0xff},
	{0x2c, 0x72, 0x8e, 0xff}, {0x21, 0x90, 0x8c, 0xff}, {0x27, 0xad, 0x81, 0xff},
	{0x5d, 0xc8, 0x63, 0xff}, {0xaa, 0xdc, 0x32, 0xff}, {0xfd, 0xe7, 0x25, 0xff},
}

// Colormap returns the colour scale: Colormap()[0] is the lowest power shown, the last entry the
// highest. Each level's colour is interpolated between the anchors and then rounded to 8 bits
// per channel so that its lightness (CIE L*) never falls below the level under it: plain
// rounding would make a few neighbouring levels step back in lightness by a hair.
func Colormap() []color.NRGBA {
	out := make([]color.NRGBA, levels)
	segments := float64(len(anchors) - 1)
	prev := -1.0
	for i := range out {
		x := float64(i) / (levels - 1) * segments
		k := min(int(x), len(anchors)-2)
		out[i] = roundNotDarker(mixFloat(anchors[k], anchors[k+1], x-float64(k)), prev)
		prev = lightness(out[i])
	}
	return out
}

// mixFloat interpolates linearly between a and b in sRGB, channels 0–255.
func mixFloat(a, b color.NRGBA, f float64) [3]float64 {
	lerp := func(p, q uint8) float64 { return float64(p) + (float64(q)-float64(p))*f }
	return [3]float64{lerp(a.R, b.R), lerp(a.G, b.G), lerp(a.B, b.B)}
}

// roundNotDarker rounds c to the nearest 8-bit colour (of the eight roundings of its channels up
// or down) whose lightness is at least minL; the lightest of them if none is.
func roundNotDarker(c [3]float64, minL float64) color.NRGBA {
	var best, lightest color.NRGBA
	bestDist, bestL := math.Inf(1), -1.0
	for m := range 8 {
		var ch [3]uint8
		var dist float64
		for j := range 3 {
			v := math.Floor(c[j])
			if m>>j&1 == 1 {
				v = math.Min(v+1, 255)
			}
			ch[j], dist = uint8(v), dist+(v-c[j])*(v-c[j])
		}
		cand := color.NRGBA{ch[0], ch[1], ch[2], 0xff}
		l := lightness(cand)
		if l >= minL && dist < bestDist {
			best, bestDist = cand, dist
		}
		if l > bestL {
			lightest, bestL = cand, l
		}
	}
	if math.IsInf(bestDist, 1) {
		return lightest
	}
	return best
}

// lightness is the CIE L* (0 black to 100 white) of an sRGB colour.
func lightness(c color.NRGBA) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	y := 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B) // relative luminance, D65
	if y > 216.0/24389 {
		return 116*math.Cbrt(y) - 16
	}
	return y * 24389 / 27
}

// palette is the PNG's palette: the colour levels, then background and ink.
func palette() color.Palette {
	p := make(color.Palette, 0, levels+2)
	for _, c := range Colormap() {
		p = append(p, c)
	}
	return append(p, color.NRGBA{0xff, 0xff, 0xff, 0xff}, color.NRGBA{0x20, 0x20, 0x20, 0xff})
}
