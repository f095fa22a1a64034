package waterfall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WAV format tags (the fmt chunk's wFormatTag) this package reads.
const (
	wavFormatPCM        = 1
	wavFormatFloat      = 3
	wavFormatExtensible = 0xFFFE
)

// maxWAVChunks bounds how many chunks may precede the data chunk, so a crafted file cannot keep
// the parser skipping forever.
const maxWAVChunks = 64

// ErrNotWAV is wrapped when a file does not start with a RIFF/WAVE header.
var ErrNotWAV = errors.New("not a WAV file")

// wavHeader is what the parser learned from a WAV file's header.
type wavHeader struct {
	formatTag     uint16 // PCM or IEEE float, after resolving WAVE_FORMAT_EXTENSIBLE
	channels      int    // 1 (audio) or 2 (I and Q)
	sampleRate    float64
	bitsPerSample int
	blockAlign    int   // bytes per frame of all channels
	dataOffset    int64 // where the samples start, from the file's beginning
	dataBytes     int64 // how many bytes of samples there are, a multiple of blockAlign
}

// encoding returns how the data chunk's samples are stored.
func (h wavHeader) encoding() encoding {
	switch {
	case h.formatTag == wavFormatPCM && h.channels == 1:
		return encodingS16Real
	case h.formatTag == wavFormatPCM:
		return encodingCI16
	case h.channels == 1:
		return encodingF32Real
	default:
		return encodingCF32
	}
}

// parseWAVHeader reads a RIFF/WAVE header from r up to the start of the data chunk. size is the
// file's length in bytes. A data chunk whose declared size is 0, 0xFFFFFFFF or runs past the end
// of the file (a recorder that was stopped before it could write the final size) is taken to
// run to the end of the file. Only PCM 16-bit and IEEE float 32-bit, one or two channels, are
// accepted; every other header is refused with an error naming the field.
func parseWAVHeader(r io.ReadSeeker, size int64) (wavHeader, error) {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return wavHeader{}, fmt.Errorf("%w: %d bytes, shorter than a RIFF header", ErrNotWAV, size)
	}
	switch {
	case string(riff[0:4]) == "RF64":
		return wavHeader{}, errors.New("wav: RF64 (WAV over 4 GiB) is not supported")
	case string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE":
		return wavHeader{}, fmt.Errorf("%w: starts with %q, not RIFF....WAVE", ErrNotWAV, riff[:])
	}
	var h wavHeader
	haveFmt := false
	pos := int64(12)
	for range maxWAVChunks {
		id, chunkSize, err := readChunkHeader(r)
		if err != nil {
			if !haveFmt {
				return wavHeader{}, errors.New("wav: no fmt chunk")
			}
			return wavHeader{}, errors.New("wav: no data chunk")
		}
		pos += 8
		switch id {
		case "fmt ":
			if h, err = readFmtChunk(r, chunkSize); err != nil {
				return wavHeader{}, err
			}
			if _, err := r.Seek(paddedSize(chunkSize)-16, io.SeekCurrent); err != nil {
				return wavHeader{}, fmt.Errorf("wav: skip the rest of the fmt chunk: %w", err)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return wavHeader{}, errors.New("wav: the data chunk comes before the fmt chunk")
			}
			h.dataOffset = pos
			h.dataBytes = dataChunkBytes(chunkSize, size-pos, h.blockAlign)
			return h, nil
		default:
			if _, err := r.Seek(paddedSize(chunkSize), io.SeekCurrent); err != nil {
				return wavHeader{}, fmt.Errorf("wav: skip chunk %q: %w", id, err)
			}
		}
		pos += paddedSize(chunkSize)
		if pos > size {
			return wavHeader{}, fmt.Errorf("wav: chunk %q runs past the end of the file", id)
		}
	}
	return wavHeader{}, fmt.Errorf("wav: no data chunk among the first %d chunks", maxWAVChunks)
}

// readChunkHeader reads a chunk's four-character id and its declared size.
func readChunkHeader(r io.Reader) (string, uint32, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", 0, err
	}
	return string(b[0:4]), binary.LittleEndian.Uint32(b[4:8]), nil
}

// paddedSize is a chunk's size in the file: RIFF chunks are padded to an even length.
func paddedSize(n uint32) int64 { return int64(n) + int64(n&1) }

// readFmtChunk reads the 16 bytes of a fmt chunk (and, for WAVE_FORMAT_EXTENSIBLE, the sub
// format), checks them, and leaves r 16 bytes into the chunk.
func readFmtChunk(r io.ReadSeeker, size uint32) (wavHeader, error) {
	if size < 16 {
		return wavHeader{}, fmt.Errorf("wav: fmt chunk of %d bytes, shorter than 16", size)
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return wavHeader{}, errors.New("wav: the file ends inside the fmt chunk")
	}
	h := wavHeader{
		formatTag:     binary.LittleEndian.Uint16(b[0:2]),
		channels:      int(binary.LittleEndian.Uint16(b[2:4])),
		sampleRate:    float64(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign:    int(binary.LittleEndian.Uint16(b[12:14])),
		bitsPerSample: int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if h.formatTag == wavFormatExtensible {
		tag, err := readSubFormat(r, size)
		if err != nil {
			return wavHeader{}, err
		}
		h.formatTag = tag
	}
	return h, h.check()
}

// readSubFormat reads the format tag from the first two bytes of a WAVE_FORMAT_EXTENSIBLE
// sub-format GUID (cbSize, valid bits and channel mask come first) and seeks back to 16 bytes
// into the chunk.
func readSubFormat(r io.ReadSeeker, size uint32) (uint16, error) {
	if size < 40 {
		return 0, fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes, shorter than 40", size)
	}
	var ext [10]byte
	if _, err := io.ReadFull(r, ext[:]); err != nil {
		return 0, errors.New("wav: the file ends inside the fmt chunk")
	}
	if _, err := r.Seek(-10, io.SeekCurrent); err != nil {
		return 0, fmt.Errorf("wav: fmt chunk: %w", err)
	}
	return binary.LittleEndian.Uint16(ext[8:10]), nil
}

// check refuses what the package cannot read, naming the field.
func (h wavHeader) check() error {
	switch {
	case h.formatTag != wavFormatPCM && h.formatTag != wavFormatFloat:
		return fmt.Errorf("wav: format tag %#x is not supported (PCM 1 or IEEE float 3)", h.formatTag)
	case h.channels != 1 && h.channels != 2:
		return fmt.Errorf("wav: %d channels: only 1 (audio) or 2 (I and Q) are supported", h.channels)
	case h.sampleRate <= 0:
		return errors.New("wav: sample rate 0")
	case h.formatTag == wavFormatPCM && h.bitsPerSample != 16:
		return fmt.Errorf("wav: PCM with %d bits per sample is not supported (16)", h.bitsPerSample)
	case h.formatTag == wavFormatFloat && h.bitsPerSample != 32:
		return fmt.Errorf("wav: IEEE float with %d bits per sample is not supported (32)", h.bitsPerSample)
	case h.blockAlign != h.channels*h.bitsPerSample/8:
		return fmt.Errorf("wav: block align %d does not match %d channels of %d bits",
			h.blockAlign, h.channels, h.bitsPerSample)
	}
	return nil
}

// dataChunkBytes is how many bytes of whole frames the data chunk holds: its declared size, or
// what is left of the file when the declared size is unset (0 or 0xFFFFFFFF, a recording still
// being written) or larger than the file.
func dataChunkBytes(declared uint32, left int64, blockAlign int) int64 {
	n := int64(declared)
	if declared == 0 || declared == 0xFFFFFFFF || n > left {
		n = max(left, 0)
	}
	return n - n%int64(blockAlign)
}
