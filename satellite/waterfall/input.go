package waterfall

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Format names how a recording is stored.
type Format string

// The formats RenderFile reads.
const (
	// FormatAuto detects the format: a RIFF/WAVE header, else the datatype of a SigMF sidecar,
	// else the file name's extension.
	FormatAuto Format = ""
	// FormatCF32 is raw interleaved complex float32, little-endian (I, Q): .cf32, .cfile, .fc32.
	FormatCF32 Format = "cf32"
	// FormatCI16 is raw interleaved complex int16, little-endian (I, Q): .ci16, .cs16, .sc16.
	FormatCI16 Format = "ci16"
	// FormatWAV is a RIFF/WAVE file: one channel is audio, two channels are I (left) and Q
	// (right); PCM 16-bit or IEEE float 32-bit.
	FormatWAV Format = "wav"
)

// ParseFormat reads a format name: cf32, ci16, wav, or "" (detect).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatAuto, FormatCF32, FormatCI16, FormatWAV:
		return f, nil
	}
	return "", fmt.Errorf("format %q is not one of cf32, ci16, wav", s)
}

// extensions maps file name extensions of raw IQ recordings to their format.
var extensions = map[string]Format{
	".cf32": FormatCF32, ".cfile": FormatCF32, ".fc32": FormatCF32,
	".ci16": FormatCI16, ".cs16": FormatCI16, ".sc16": FormatCI16,
	".wav": FormatWAV,
}

// encoding is how one sample is laid out in the file.
type encoding int

const (
	encodingCF32    encoding = iota // complex float32: 8 bytes
	encodingCI16                    // complex int16: 4 bytes
	encodingF32Real                 // real float32: 4 bytes
	encodingS16Real                 // real int16: 2 bytes
)

// bytesPerSample is the size of one (complex or real) sample.
func (e encoding) bytesPerSample() int {
	switch e {
	case encodingCF32:
		return 8
	case encodingCI16, encodingF32Real:
		return 4
	default:
		return 2
	}
}

// complex reports whether samples are complex (IQ) rather than real (audio).
func (e encoding) complex() bool { return e == encodingCF32 || e == encodingCI16 }

// Input describes a recording as RenderFile will read it.
type Input struct {
	// Format is the detected or given format.
	Format Format
	// Complex is true for IQ (frequencies −rate/2 to +rate/2 around the centre), false for
	// audio (0 to rate/2).
	Complex bool
	// SampleRate is in samples per second (Hz); CentreHz the centre frequency (Hz, 0 unknown).
	SampleRate, CentreHz float64
	// Start is when the first sample was taken; zero when unknown.
	Start time.Time
	// Samples is how many whole samples (complex pairs for IQ) the file holds.
	Samples int64
	// Sidecar is the SigMF metadata file that was read, if any.
	Sidecar string

	enc        encoding
	dataOffset int64
}

// Duration is how long the recording lasts.
func (in Input) Duration() time.Duration {
	return time.Duration(float64(in.Samples) / in.SampleRate * float64(time.Second))
}

// Probe opens path and works out its format, sample rate, centre frequency, start and length
// without reading the samples. Values in opts override the file's own (header or sidecar).
func Probe(path string, opts Options) (Input, error) {
	if err := opts.withDefaults().validate(); err != nil {
		return Input{}, fmt.Errorf("waterfall options: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return Input{}, err
	}
	defer func() { _ = f.Close() }() // read-only
	return probe(f, path, opts)
}

func probe(f *os.File, path string, opts Options) (Input, error) {
	st, err := f.Stat()
	if err != nil {
		return Input{}, err
	}
	if !st.Mode().IsRegular() {
		return Input{}, fmt.Errorf("%s is not a regular file", path)
	}
	meta, err := readSidecar(path)
	if err != nil {
		return Input{}, err
	}
	format, err := detectFormat(f, path, opts.Format, meta)
	if err != nil {
		return Input{}, err
	}
	in := Input{Format: format}
	if format == FormatWAV {
		if err := in.fromWAV(f, st.Size()); err != nil {
			return Input{}, err
		}
	} else {
		in.fromRaw(st.Size(), meta)
	}
	in.applyMeta(meta)
	in.applyOptions(opts)
	return in, in.check()
}

// detectFormat applies the rules of FormatAuto: an explicit format first, then a RIFF header,
// then the SigMF sidecar's datatype, then the extension.
func detectFormat(f io.ReadSeeker, path string, given Format, meta *sigmfMeta) (Format, error) {
	if given != FormatAuto {
		return ParseFormat(string(given))
	}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:]) // a short file is judged by what was read
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if n == 4 && (bytes.Equal(head[:], []byte("RIFF")) || bytes.Equal(head[:], []byte("RF64"))) {
		return FormatWAV, nil
	}
	if meta != nil && meta.datatype != "" {
		return meta.format()
	}
	ext := strings.ToLower(filepath.Ext(path))
	if format, ok := extensions[ext]; ok && format != FormatWAV {
		return format, nil
	}
	if ext == ".wav" {
		return "", fmt.Errorf("%s: %w: starts with %q, not RIFF", path, ErrNotWAV, head[:n])
	}
	return "", fmt.Errorf("cannot tell the format of %s: give it (cf32, ci16 or wav), name the file "+
		".cf32/.cfile/.ci16/.cs16/.wav, or put a SigMF sidecar %s next to it", path, sidecarPath(path))
}

// fromWAV fills in from a WAV header.
func (in *Input) fromWAV(f io.ReadSeeker, size int64) error {
	h, err := parseWAVHeader(f, size)
	if err != nil {
		return err
	}
	in.enc = h.encoding()
	in.Complex = in.enc.complex()
	in.SampleRate = h.sampleRate
	in.dataOffset = h.dataOffset
	in.Samples = h.dataBytes / int64(h.blockAlign)
	return nil
}

// fromRaw fills in for a raw IQ file; a trailing partial sample (a recorder stopped mid-write)
// is left out.
func (in *Input) fromRaw(size int64, meta *sigmfMeta) {
	in.enc = encodingCF32
	if in.Format == FormatCI16 {
		in.enc = encodingCI16
	}
	in.Complex = true
	in.Samples = size / int64(in.enc.bytesPerSample())
	if meta != nil {
		in.Samples = (size - meta.offset) / int64(in.enc.bytesPerSample())
		in.dataOffset = meta.offset
	}
}

func (in *Input) applyMeta(meta *sigmfMeta) {
	if meta == nil {
		return
	}
	in.Sidecar = meta.path
	if meta.sampleRate > 0 {
		in.SampleRate = meta.sampleRate
	}
	in.CentreHz = meta.centreHz
	in.Start = meta.start
}

func (in *Input) applyOptions(opts Options) {
	if opts.SampleRate > 0 {
		in.SampleRate = opts.SampleRate
	}
	if opts.CentreHz != 0 {
		in.CentreHz = opts.CentreHz
	}
	if !opts.Start.IsZero() {
		in.Start = opts.Start
	}
}

func (in Input) check() error {
	if in.SampleRate <= 0 {
		return errors.New("sample rate unknown: give it (--rate) or write a SigMF sidecar with core:sample_rate")
	}
	if in.Samples <= 0 {
		return fmt.Errorf("%s recording holds no samples", in.Format)
	}
	return nil
}
