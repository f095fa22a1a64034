package waterfall

import (
	"context"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// spectrogram is the power spectrum of a recording, averaged into rows.
type spectrogram struct {
	bins, rows   int
	framesPerRow int       // FFT frames averaged into each row (the last row may have fewer)
	power        []float32 // rows × bins: mean power per bin, relative to full scale (1 = 0 dBFS)
}

// row returns the power of one row.
func (s *spectrogram) row(r int) []float32 { return s.power[r*s.bins : (r+1)*s.bins] }

// layout decides how many FFT frames go into a row so that at most height rows hold them all.
func layout(samples int64, fftSize, height int) (frames, framesPerRow, rows int) {
	frames = int(samples / int64(fftSize))
	if frames == 0 {
		return 0, 0, 0
	}
	framesPerRow = (frames + height - 1) / height
	rows = (frames + framesPerRow - 1) / framesPerRow
	return frames, framesPerRow, rows
}

// transform is a windowed FFT of one frame and the power of its bins, in display order: for IQ
// from −rate/2 to just below +rate/2 (the zero frequency at column FFTSize/2), for audio from 0
// to rate/2.
type transform struct {
	n      int
	cfft   *fourier.CmplxFFT // IQ
	rfft   *fourier.FFT      // audio
	window []float64
	cseq   []complex128
	rseq   []float64
	coeff  []complex128
	norm   float64 // scales |X|² so a full-scale tone reads 1 (0 dBFS)
}

func newTransform(n int, complexInput bool) *transform {
	t := &transform{n: n, window: hann(n)}
	var sum float64
	for _, w := range t.window {
		sum += w
	}
	if complexInput {
		t.cfft = fourier.NewCmplxFFT(n)
		t.cseq, t.coeff = make([]complex128, n), make([]complex128, n)
		t.norm = 1 / (sum * sum)
	} else {
		t.rfft = fourier.NewFFT(n)
		t.rseq, t.coeff = make([]float64, n), make([]complex128, n/2+1)
		t.norm = 4 / (sum * sum) // a real sine's power is split between +f and −f
	}
	return t
}

// bins is the number of columns of a row.
func (t *transform) bins() int {
	if t.cfft != nil {
		return t.n
	}
	return t.n/2 + 1
}

// hann is the periodic Hann window of n points.
func hann(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
	}
	return w
}

// accumulate adds the power spectrum of the frame in re (and im) to acc.
func (t *transform) accumulate(re, im []float64, acc []float64) {
	if t.cfft == nil {
		for i, w := range t.window {
			t.rseq[i] = re[i] * w
		}
		t.rfft.Coefficients(t.coeff, t.rseq)
		for k, c := range t.coeff {
			acc[k] += power(c) * t.norm
		}
		return
	}
	for i, w := range t.window {
		t.cseq[i] = complex(re[i]*w, im[i]*w)
	}
	t.cfft.Coefficients(t.coeff, t.cseq)
	half := t.n / 2
	for j := range acc {
		acc[j] += power(t.coeff[(j+half)%t.n]) * t.norm
	}
}

func power(c complex128) float64 { return real(c)*real(c) + imag(c)*imag(c) }

// compute reads frames frames from fr and averages them framesPerRow at a time. It checks ctx
// between rows.
func compute(ctx context.Context, fr *frameReader, t *transform, frames, framesPerRow int) (*spectrogram, error) {
	s := &spectrogram{bins: t.bins(), framesPerRow: framesPerRow}
	s.rows = (frames + framesPerRow - 1) / framesPerRow
	s.power = make([]float32, s.rows*s.bins)
	acc := make([]float64, s.bins)
	for r := range s.rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(framesPerRow, frames-r*framesPerRow)
		clear(acc)
		for range n {
			if err := fr.next(); err != nil {
				return nil, err
			}
			t.accumulate(fr.re, fr.im, acc)
		}
		out := s.row(r)
		for k, p := range acc {
			out[k] = float32(p / float64(n))
		}
	}
	return s, nil
}
