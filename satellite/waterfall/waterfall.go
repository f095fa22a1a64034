package waterfall

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
)

// Info describes a rendered waterfall.
type Info struct {
	// Input is the recording as it was read.
	Input
	// FFTSize is the samples per FFT frame; Bins the columns of the plot (FFTSize for IQ,
	// FFTSize/2+1 for audio); Rows its rows; FramesPerRow the frames averaged into each row (the
	// last row may hold fewer).
	FFTSize, Bins, Rows, FramesPerRow int
	// RowSeconds is the time one row covers, seconds.
	RowSeconds float64
	// BinHz is the width of a column, Hz; FirstBinHz the frequency of column 0's centre, Hz:
	// absolute when the centre frequency of an IQ recording is known, else an offset from the
	// centre (IQ, −rate/2) or from 0 (audio).
	BinHz, FirstBinHz float64
	// MinDB and MaxDB are the colour scale, dB relative to full scale (the lowest and the
	// highest colour).
	MinDB, MaxDB float64
	// Plot is where the spectrogram lies in the image: row r, column j is the pixel
	// (Plot.Min.X+j, Plot.Min.Y+r).
	Plot image.Rectangle
	// Width and Height are the image's size, pixels.
	Width, Height int
	// NonFiniteSamples counts float samples that were NaN or infinite and were read as 0.
	NonFiniteSamples int64
}

// ColumnHz is the frequency of column j's centre (see FirstBinHz).
func (i Info) ColumnHz(j int) float64 { return i.FirstBinHz + float64(j)*i.BinHz }

// RenderFile renders the recording at in into a PNG at out. The format, sample rate, centre
// frequency and start come from opts, else from the file (WAV header, SigMF sidecar); see
// Options. The recording is read once, one FFT frame at a time. The PNG is written to a
// temporary file next to out and renamed, so out never holds a partial image. An error names the
// file and what is wrong with it.
func RenderFile(ctx context.Context, in, out string, opts Options) (Info, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Info{}, fmt.Errorf("waterfall options: %w", err)
	}
	img, info, err := renderInput(ctx, in, opts)
	if err != nil {
		return Info{}, fmt.Errorf("waterfall of %s: %w", in, err)
	}
	if err := writePNG(out, img); err != nil {
		return Info{}, fmt.Errorf("waterfall %s: %w", out, err)
	}
	return info, nil
}

func renderInput(ctx context.Context, path string, opts Options) (*image.Paletted, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer func() { _ = f.Close() }() // read-only
	input, err := probe(f, path, opts)
	if err != nil {
		return nil, Info{}, err
	}
	if _, err := f.Seek(input.dataOffset, io.SeekStart); err != nil {
		return nil, Info{}, err
	}
	return render(ctx, f, input, opts)
}

// render computes the spectrogram of the samples r holds (positioned at the first sample) and
// draws it.
func render(ctx context.Context, r io.Reader, input Input, opts Options) (*image.Paletted, Info, error) {
	frames, framesPerRow, _ := layout(input.Samples, opts.FFTSize, opts.Height)
	if frames == 0 {
		return nil, Info{}, fmt.Errorf("%d samples are fewer than one FFT frame (%d)", input.Samples, opts.FFTSize)
	}
	t := newTransform(opts.FFTSize, input.Complex)
	fr := newFrameReader(r, input.enc, opts.FFTSize, input.Samples)
	s, err := compute(ctx, fr, t, frames, framesPerRow)
	if err != nil {
		return nil, Info{}, err
	}
	info := newInfo(input, s, opts)
	info.NonFiniteSamples = fr.badVals
	return draw(s, &info), info, nil
}

func newInfo(input Input, s *spectrogram, opts Options) Info {
	info := Info{
		Input: input, FFTSize: opts.FFTSize, Bins: s.bins, Rows: s.rows, FramesPerRow: s.framesPerRow,
		RowSeconds: float64(s.framesPerRow*opts.FFTSize) / input.SampleRate,
		BinHz:      input.SampleRate / float64(opts.FFTSize),
		MinDB:      opts.MinDB, MaxDB: opts.MaxDB,
	}
	if input.Complex {
		info.FirstBinHz = -input.SampleRate / 2
		if input.CentreHz > 0 {
			info.FirstBinHz += input.CentreHz
		}
	} else {
		info.CentreHz = 0
	}
	if !opts.fixedRange() {
		info.MinDB, info.MaxDB = autoRange(s.power)
	}
	return info
}

// writePNG writes img to a temporary file in out's directory and renames it to out. The file is
// made 0600 (os.CreateTemp): it is the runner's, which uploads it.
func writePNG(out string, img image.Image) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // already failed; the write error is the one to report
			_ = os.Remove(tmp.Name()) // best effort: the error above says what went wrong
		}
	}()
	if err = png.Encode(tmp, img); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
