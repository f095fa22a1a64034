package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/satellite/waterfall"
)

type waterfallFlags struct {
	rate, centre, minDB, maxDB float64
	format, start              string
	fft, height                int
}

func newWaterfallCmd(s stdio) *cobra.Command {
	var f waterfallFlags
	cmd := &cobra.Command{
		Use:   "waterfall IN OUT.png",
		Short: "Render an IQ or audio recording into a PNG waterfall",
		Long: "waterfall renders a recording into a PNG spectrogram: time down, frequency across, with a\n" +
			"frequency axis, a time axis and a colour bar in dB full scale. IN is complex float32\n" +
			"(.cf32, .cfile, .fc32), complex int16 (.ci16, .cs16, .sc16), or WAV (PCM 16-bit or float\n" +
			"32-bit; one channel is audio, two are I and Q). The sample rate, centre frequency and start\n" +
			"come from the flags, else from the WAV header or a SigMF sidecar (IN with its extension\n" +
			"replaced by .sigmf-meta). The recording is read once, in bounded memory.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return runWaterfall(cmd.Context(), s, &f, args) },
	}
	fl := cmd.Flags()
	fl.Float64Var(&f.rate, "rate", 0, "sample rate, Hz (required for raw IQ without a SigMF sidecar)")
	fl.Float64Var(&f.centre, "centre", 0, "centre frequency of IQ, Hz: the axis then shows MHz instead of kHz offsets")
	fl.StringVar(&f.format, "format", "", "input format: cf32, ci16 or wav (default: detect)")
	fl.StringVar(&f.start, "start", "", "time of the first sample, RFC 3339: the time axis then shows UTC")
	fl.IntVar(&f.fft, "fft", waterfall.DefaultFFTSize, "FFT size, a power of two: the columns of the image")
	fl.IntVar(&f.height, "height", waterfall.DefaultHeight, "most rows; frames are averaged to fit")
	fl.Float64Var(&f.minDB, "min-db", 0, "bottom of the colour scale, dB full scale (with --max-db; default: auto)")
	fl.Float64Var(&f.maxDB, "max-db", 0, "top of the colour scale, dB full scale (with --min-db; default: auto)")
	return cmd
}

func (f *waterfallFlags) options() (waterfall.Options, error) {
	format, err := waterfall.ParseFormat(f.format)
	if err != nil {
		return waterfall.Options{}, fmt.Errorf("--format: %w", err)
	}
	o := waterfall.Options{Format: format, FFTSize: f.fft, Height: f.height, MinDB: f.minDB, MaxDB: f.maxDB}
	switch {
	case math.IsNaN(f.rate) || math.IsInf(f.rate, 0) || f.rate < 0:
		return o, fmt.Errorf("--rate: %g is not a sample rate in Hz", f.rate)
	case math.IsNaN(f.centre) || math.IsInf(f.centre, 0) || f.centre < 0:
		return o, fmt.Errorf("--centre: %g is not a frequency in Hz", f.centre)
	}
	o.SampleRate, o.CentreHz = f.rate, f.centre
	if f.start != "" {
		t, err := time.Parse(time.RFC3339Nano, f.start)
		if err != nil {
			return o, fmt.Errorf("--start: %q is not an RFC 3339 time such as 2026-06-27T10:00:00Z", f.start)
		}
		o.Start = t.UTC()
	}
	return o, nil
}

func runWaterfall(ctx context.Context, s stdio, f *waterfallFlags, args []string) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C stops the render and removes its temporary file.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	info, err := waterfall.RenderFile(ctx, args[0], args[1], opts)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "%s: %d×%d pixels, %s %s of %s (%d samples at %g Hz), %d rows of %d FFT frames "+
		"(%d bins of %.4g Hz), colour %.1f to %.1f dBFS\n", args[1], info.Width, info.Height, info.Format,
		kind(info.Complex), info.Duration().Round(time.Millisecond), info.Samples, info.SampleRate, info.Rows,
		info.FramesPerRow, info.Bins, info.BinHz, info.MinDB, info.MaxDB)
	return err
}

func kind(complexSamples bool) string {
	if complexSamples {
		return "IQ"
	}
	return "audio"
}
