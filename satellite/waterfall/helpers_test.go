package waterfall

import (
	"bufio"
	"encoding/binary"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// signal generates a recording: a unit-free tone whose frequency (Hz) at time t (seconds from the
// first sample) is freq(t), of amplitude amp, plus white Gaussian noise of standard deviation
// noise per component.
type signal struct {
	rate, amp, noise float64
	freq             func(t float64) float64
	complex          bool
	seed             uint64
}

// each calls fn with every sample in turn (im is 0 for real signals).
func (s signal) each(n int, fn func(re, im float64)) {
	rng := rand.New(rand.NewPCG(s.seed, 1))
	phase := 0.0
	for i := range n {
		re, im := s.amp*math.Cos(phase), s.amp*math.Sin(phase)
		if s.noise > 0 {
			re += s.noise * rng.NormFloat64()
			im += s.noise * rng.NormFloat64()
		}
		if !s.complex {
			im = 0
		}
		fn(re, im)
		phase = math.Mod(phase+2*math.Pi*s.freq(float64(i)/s.rate)/s.rate, 2*math.Pi)
	}
}

// sampleWriter writes samples in one of the encodings.
type sampleWriter struct {
	w   *bufio.Writer
	enc encoding
	err error
}

func (sw *sampleWriter) put(re, im float64) {
	var b [8]byte
	switch sw.enc {
	case encodingCF32:
		binary.LittleEndian.PutUint32(b[0:], math.Float32bits(float32(re)))
		binary.LittleEndian.PutUint32(b[4:], math.Float32bits(float32(im)))
	case encodingCI16:
		binary.LittleEndian.PutUint16(b[0:], uint16(toInt16(re)))
		binary.LittleEndian.PutUint16(b[2:], uint16(toInt16(im)))
	case encodingF32Real:
		binary.LittleEndian.PutUint32(b[0:], math.Float32bits(float32(re)))
	case encodingS16Real:
		binary.LittleEndian.PutUint16(b[0:], uint16(toInt16(re)))
	}
	if sw.err == nil {
		_, sw.err = sw.w.Write(b[:sw.enc.bytesPerSample()])
	}
}

func toInt16(x float64) int16 {
	return int16(math.Max(-32768, math.Min(32767, math.Round(x*32768))))
}

// writeRecording writes n samples of s to path: raw when wav is false, else with a WAV header.
func writeRecording(t testing.TB, path string, enc encoding, wav bool, s signal, n int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	w := bufio.NewWriterSize(f, 1<<16)
	if wav {
		_, err = w.Write(wavHeaderBytes(enc, int(s.rate), n))
		require.NoError(t, err)
	}
	sw := &sampleWriter{w: w, enc: enc}
	s.each(n, sw.put)
	require.NoError(t, sw.err)
	require.NoError(t, w.Flush())
}

// wavHeaderBytes is a canonical 44-byte WAV header for n samples of enc at rate.
func wavHeaderBytes(enc encoding, rate, n int) []byte {
	channels, tag, bits := 1, uint16(wavFormatPCM), 16
	switch enc {
	case encodingCF32:
		channels, tag, bits = 2, wavFormatFloat, 32
	case encodingCI16:
		channels = 2
	case encodingF32Real:
		tag, bits = wavFormatFloat, 32
	}
	block := channels * bits / 8
	data := n * block
	b := make([]byte, 0, 44)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+data))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*block))
	b = binary.LittleEndian.AppendUint16(b, uint16(block))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	return binary.LittleEndian.AppendUint32(b, uint32(data))
}

// plotLevels decodes the PNG at path and returns the colour level of every pixel of its plot
// area (Info.Plot), row by row, by looking each pixel's colour up in the colour map. A pixel of
// any other colour fails the test.
func plotLevels(t testing.TB, path string, info Info) [][]int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, info.Width, img.Bounds().Dx())
	require.Equal(t, info.Height, img.Bounds().Dy())
	require.Equal(t, info.Bins, info.Plot.Dx())
	require.Equal(t, info.Rows, info.Plot.Dy())
	lookup := map[color.NRGBA]int{}
	for i, c := range Colormap() {
		lookup[c] = i // a colour shared by two levels counts as the higher one
	}
	out := make([][]int, info.Plot.Dy())
	for r := range out {
		out[r] = make([]int, info.Plot.Dx())
		for j := range out[r] {
			c := color.NRGBAModel.Convert(img.At(info.Plot.Min.X+j, info.Plot.Min.Y+r)).(color.NRGBA)
			lv, ok := lookup[c]
			require.Truef(t, ok, "pixel (%d, %d) of the plot has colour %v, not one of the colour map",
				info.Plot.Min.X+j, info.Plot.Min.Y+r, c)
			out[r][j] = lv
		}
	}
	return out
}

// brightestColumn is the column of the highest level in row; when several columns share it (a
// strong tone clipped at the top of the scale), their mean.
func brightestColumn(row []int) float64 {
	top, sum, n := -1, 0, 0
	for j, lv := range row {
		switch {
		case lv > top:
			top, sum, n = lv, j, 1
		case lv == top:
			sum, n = sum+j, n+1
		}
	}
	return float64(sum) / float64(n)
}
