package waterfall

import (
	"image/color"
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
// highest.
func Colormap() []color.NRGBA {
	out := make([]color.NRGBA, levels)
	segments := float64(len(anchors) - 1)
	for i := range out {
		x := float64(i) / (levels - 1) * segments
		k := min(int(x), len(anchors)-2)
		out[i] = mix(anchors[k], anchors[k+1], x-float64(k))
	}
	return out
}

func mix(a, b color.NRGBA, f float64) color.NRGBA {
	lerp := func(p, q uint8) uint8 { return uint8(float64(p) + (float64(q)-float64(p))*f + 0.5) }
	return color.NRGBA{lerp(a.R, b.R), lerp(a.G, b.G), lerp(a.B, b.B), 0xff}
}

// palette is the PNG's palette: the colour levels, then background and ink.
func palette() color.Palette {
	p := make(color.Palette, 0, levels+2)
	for _, c := range Colormap() {
		p = append(p, c)
	}
	return append(p, color.NRGBA{0xff, 0xff, 0xff, 0xff}, color.NRGBA{0x20, 0x20, 0x20, 0xff})
}
