package waterfall

import (
	"fmt"
	"time"
)

// Defaults and limits of Options.
const (
	DefaultFFTSize = 1024
	DefaultHeight  = 600
	MinFFTSize     = 64
	MaxFFTSize     = 8192
	MinHeight      = 16
	MaxHeight      = 4096
	// MaxCells bounds FFT size × height, and so the memory a render takes (about 9 bytes a
	// cell: the power spectrum, a sorted copy for the auto range, and the image).
	MaxCells = 1 << 22
)

// Options tune RenderFile. The zero value renders with the defaults and the file's own
// metadata (WAV header or SigMF sidecar).
type Options struct {
	// Format of the input; FormatAuto (empty) detects it.
	Format Format
	// SampleRate in Hz overrides the WAV header or sidecar; required for a raw IQ file without a
	// SigMF sidecar.
	SampleRate float64
	// CentreHz is the frequency (Hz) the IQ recording is centred on; when known (here or in the
	// sidecar) the frequency axis shows absolute frequencies in MHz, else offsets in kHz.
	// Ignored for audio, whose axis runs from 0 to rate/2 in kHz.
	CentreHz float64
	// Start is when the first sample was taken; when known (here or in the sidecar) the time
	// axis shows UTC clock times, else seconds from the start.
	Start time.Time
	// FFTSize is the number of samples per FFT frame, a power of two (default 1024): the image
	// has FFTSize columns for IQ, FFTSize/2+1 for audio.
	FFTSize int
	// Height is the most spectrogram rows (default 600); consecutive frames are averaged into a
	// row so the whole recording fits.
	Height int
	// MinDB and MaxDB fix the colour scale (dB relative to full scale); both zero chooses it
	// from the data (see autoRange).
	MinDB, MaxDB float64
}

func (o Options) withDefaults() Options {
	if o.FFTSize == 0 {
		o.FFTSize = DefaultFFTSize
	}
	if o.Height == 0 {
		o.Height = DefaultHeight
	}
	return o
}

// validate names the first bad option.
func (o Options) validate() error {
	if _, err := ParseFormat(string(o.Format)); err != nil {
		return err
	}
	switch {
	case !finite(o.SampleRate) || o.SampleRate < 0:
		return fmt.Errorf("sample rate %v Hz is not a positive number", o.SampleRate)
	case !finite(o.CentreHz) || o.CentreHz < 0:
		return fmt.Errorf("centre frequency %v Hz is not a positive number", o.CentreHz)
	case o.FFTSize < MinFFTSize || o.FFTSize > MaxFFTSize || o.FFTSize&(o.FFTSize-1) != 0:
		return fmt.Errorf("FFT size %d is not a power of two from %d to %d", o.FFTSize, MinFFTSize, MaxFFTSize)
	case o.Height < MinHeight || o.Height > MaxHeight:
		return fmt.Errorf("height %d is outside [%d, %d] rows", o.Height, MinHeight, MaxHeight)
	case o.FFTSize*o.Height > MaxCells:
		return fmt.Errorf("FFT size %d × height %d = %d cells is more than %d", o.FFTSize, o.Height,
			o.FFTSize*o.Height, MaxCells)
	case !finite(o.MinDB) || !finite(o.MaxDB):
		return fmt.Errorf("dB range %v..%v is not a pair of numbers", o.MinDB, o.MaxDB)
	case o.fixedRange() && o.MaxDB <= o.MinDB:
		return fmt.Errorf("dB range: max %v is not above min %v", o.MaxDB, o.MinDB)
	}
	return nil
}

func (o Options) fixedRange() bool { return o.MinDB != 0 || o.MaxDB != 0 }
