package waterfall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// frameReader reads a recording one FFT frame at a time into reused buffers.
type frameReader struct {
	r       io.Reader
	enc     encoding
	raw     []byte
	re, im  []float64 // im is nil for real samples
	read    int64     // samples read so far
	total   int64     // samples expected
	badVals int64     // NaN or infinite float samples, read as 0
}

func newFrameReader(r io.Reader, enc encoding, frame int, total int64) *frameReader {
	fr := &frameReader{
		r: r, enc: enc, total: total,
		raw: make([]byte, frame*enc.bytesPerSample()),
		re:  make([]float64, frame),
	}
	if enc.complex() {
		fr.im = make([]float64, frame)
	}
	return fr
}

// next reads one frame into re (and im). A file that ends before the samples its size promised
// (truncated while being read) is an error naming how far it got.
func (fr *frameReader) next() error {
	if _, err := io.ReadFull(fr.r, fr.raw); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the recording ended after %d of its %d samples (was it truncated?)",
				fr.read, fr.total)
		}
		return fmt.Errorf("read samples: %w", err)
	}
	fr.decode()
	fr.read += int64(len(fr.re))
	return nil
}

// decode converts raw little-endian samples to floats, full scale ±1.
func (fr *frameReader) decode() {
	b := fr.raw
	switch fr.enc {
	case encodingCF32:
		for i := range fr.re {
			fr.re[i] = fr.float32At(b[8*i:])
			fr.im[i] = fr.float32At(b[8*i+4:])
		}
	case encodingCI16:
		for i := range fr.re {
			fr.re[i] = int16At(b[4*i:])
			fr.im[i] = int16At(b[4*i+2:])
		}
	case encodingF32Real:
		for i := range fr.re {
			fr.re[i] = fr.float32At(b[4*i:])
		}
	case encodingS16Real:
		for i := range fr.re {
			fr.re[i] = int16At(b[2*i:])
		}
	}
}

// float32At reads a float32; NaN and infinities become 0 and are counted, so one bad sample
// cannot turn a whole row of the spectrum into NaN.
func (fr *frameReader) float32At(b []byte) float64 {
	v := float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	if !finite(v) {
		fr.badVals++
		return 0
	}
	return v
}

func int16At(b []byte) float64 {
	return float64(int16(binary.LittleEndian.Uint16(b))) / 32768
}
