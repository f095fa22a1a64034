package waterfall

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/orbit"
)

// docsSample, when set, is where TestDopplerPassWaterfall renders the sample of docs/waterfall.md
// (the same recording as the test checks, at FFT 512 and 240 rows):
// go test ./satellite/waterfall -run DopplerPass -docs-sample $PWD/docs/waterfall-sample.png
var docsSample = flag.String("docs-sample", "", "copy the Doppler pass PNG here")

// The acceptance test's pass: the ISS (NORAD 25544) over Munich, a 437 MHz downlink.
const (
	catalogFile  = "../../orbit/testdata/celestrak-active-2026-177.tle" // a copy of ../shared/data's
	dopplerNorad = 25544
	downlinkHz   = 437e6
)

// dopplerCurve is the Doppler shift (Hz) of a real pass, sampled evenly from AOS to LOS.
type dopplerCurve struct {
	pass  orbit.Pass
	shift []float64
}

// at returns the shift at fraction x (0 = AOS, 1 = LOS) of the pass, linearly interpolated.
func (c dopplerCurve) at(x float64) float64 {
	p := math.Min(math.Max(x, 0), 1) * float64(len(c.shift)-1)
	i := min(int(p), len(c.shift)-2)
	return c.shift[i] + (c.shift[i+1]-c.shift[i])*(p-float64(i))
}

// highPass finds the first pass of the ISS over Munich after the element set's epoch that rises
// above 45°, and samples its Doppler shift at 437 MHz from the orbit package's range rate.
func highPass(t *testing.T) dopplerCurve {
	t.Helper()
	f, err := os.Open(catalogFile)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	sets, err := orbit.ParseTLEs(f)
	require.NoError(t, err)
	var es *orbit.ElementSet
	for _, s := range sets {
		if s.NORADID == dopplerNorad {
			es = s
		}
	}
	require.NotNil(t, es, "NORAD %d in %s", dopplerNorad, catalogFile)
	prop, err := orbit.NewPropagator(es)
	require.NoError(t, err)
	obs, err := orbit.NewObserver(48.15, 11.57, 520)
	require.NoError(t, err)
	passes, err := orbit.FindPasses(prop, obs, es.Epoch, es.Epoch.Add(72*time.Hour), orbit.PassOptions{})
	require.NoError(t, err)
	for _, p := range passes {
		if p.MaxElevationDeg < 45 || p.InProgressAtStart || p.InProgressAtEnd {
			continue
		}
		c := dopplerCurve{pass: p, shift: make([]float64, 2001)}
		span := p.LOS.Sub(p.AOS)
		for i := range c.shift {
			at := p.AOS.Add(time.Duration(float64(span) * float64(i) / float64(len(c.shift)-1)))
			l, err := obs.Look(prop, at)
			require.NoError(t, err)
			c.shift[i] = orbit.DopplerShift(downlinkHz, l.RangeRateKmS)
		}
		return c
	}
	t.Fatalf("no pass of NORAD %d above 45° in 72 h", dopplerNorad)
	return dopplerCurve{}
}

// TestDopplerPassWaterfall is issue 15's acceptance test for the built-in waterfall. It writes
// a synthetic IQ recording (complex float32, 48 kS/s, centre 437 MHz) of a carrier drifting along
// the Doppler curve of a real ISS pass over Munich (range rate from the orbit package), in
// Gaussian noise (−14 dB signal-to-noise per sample), renders it, decodes the PNG, and checks
// that in every pixel row of the plot the brightest column is where the Doppler curve puts the
// carrier at the middle of that row's time.
//
// The pass (about 10 minutes) is compressed into a 30 s recording so the test stays small; the
// frequencies are the real ones (±10 kHz at 437 MHz), only the time axis is shortened, which
// makes the drift 20 times faster than in a real recording and so the test harder, not easier.
//
// Tolerance: one bin (the FFT's resolution, 46.9 Hz) plus half of the drift of the carrier
// during the row (a row averages frames over its time, so the brightest column may lie
// anywhere the carrier passed). What is checked is the PNG's pixels, through the colour map,
// not the spectrogram it was drawn from.
func TestDopplerPassWaterfall(t *testing.T) {
	t.Parallel()
	curve := highPass(t)
	const rate, seconds = 48000.0, 30.0
	n := int(rate * seconds)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "pass.cf32"), filepath.Join(dir, "pass.png")
	s := signal{rate: rate, amp: 0.02, noise: 0.071, complex: true, seed: 42,
		freq: func(t float64) float64 { return curve.at(t / seconds) }}
	writeRecording(t, in, encodingCF32, false, s, n)

	info, err := RenderFile(context.Background(), in, out,
		Options{SampleRate: rate, CentreHz: downlinkHz, FFTSize: 1024, Height: 400})
	require.NoError(t, err)
	require.Equal(t, 352, info.Rows, "1406 frames, 4 a row")
	frames := n / info.FFTSize
	var lo, hi, worst, maxDrift float64
	for r, row := range plotLevels(t, out, info) {
		first, last := r*info.FramesPerRow, min((r+1)*info.FramesPerRow, frames)
		x0 := float64(first*info.FFTSize) / float64(n)
		x1 := float64(last*info.FFTSize) / float64(n)
		want := downlinkHz + curve.at((x0+x1)/2)
		drift := math.Abs(curve.at(x1) - curve.at(x0))
		got := info.ColumnHz(0) + brightestColumn(row)*info.BinHz
		require.InDeltaf(t, want, got, info.BinHz+drift/2,
			"row %d (%.2f–%.2f s): the brightest column is at %.0f Hz, the Doppler curve at %.0f Hz",
			r, x0*seconds, x1*seconds, got, want)
		lo, hi = math.Min(lo, want-downlinkHz), math.Max(hi, want-downlinkHz)
		worst, maxDrift = math.Max(worst, math.Abs(got-want)), math.Max(maxDrift, drift)
	}
	assert.Greater(t, hi-lo, 15e3, "the curve sweeps across the band (a flat line would prove little)")
	t.Logf("pass %s–%s, max elevation %.1f°: Doppler %+.0f to %+.0f Hz; worst row off by %.0f Hz "+
		"(bin %.1f Hz, largest drift in a row %.0f Hz)", curve.pass.AOS.Format(time.RFC3339),
		curve.pass.LOS.Format(time.RFC3339), curve.pass.MaxElevationDeg, hi, lo, worst, info.BinHz, maxDrift)
	if *docsSample != "" { // smaller than the checked one, to keep the repository light
		_, err := RenderFile(context.Background(), in, *docsSample,
			Options{SampleRate: rate, CentreHz: downlinkHz, FFTSize: 512, Height: 240})
		require.NoError(t, err)
	}
}
