package waterfall

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// extensibleHeader is a WAVE_FORMAT_EXTENSIBLE header (40-byte fmt chunk) of two float32
// channels at 96 kHz, as SDR software writes IQ, followed by a data chunk of dataSize bytes.
func extensibleHeader(dataSize uint32) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = binary.LittleEndian.AppendUint32(b, 40)
	b = binary.LittleEndian.AppendUint16(b, wavFormatExtensible)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint32(b, 96000)
	b = binary.LittleEndian.AppendUint32(b, 96000*8)
	b = binary.LittleEndian.AppendUint16(b, 8)
	b = binary.LittleEndian.AppendUint16(b, 32)
	b = binary.LittleEndian.AppendUint16(b, 22)                                  // cbSize
	b = binary.LittleEndian.AppendUint16(b, 32)                                  // valid bits
	b = binary.LittleEndian.AppendUint32(b, 3)                                   // channel mask
	b = binary.LittleEndian.AppendUint16(b, 3)                                   // sub format: IEEE float ...
	b = append(b, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"...) // ... KSDATAFORMAT GUID tail
	b = append(b, "data"...)
	return binary.LittleEndian.AppendUint32(b, dataSize)
}

func TestParseWAVHeader(t *testing.T) {
	t.Parallel()
	canonical := wavHeaderBytes(encodingCI16, 48000, 1000)
	cases := []struct {
		name      string
		file      []byte
		enc       encoding
		rate      float64
		offset    int64
		dataBytes int64
	}{
		{"canonical pcm16 stereo", append(canonical, make([]byte, 4000)...), encodingCI16, 48000, 44, 4000},
		{"extensible float stereo", append(extensibleHeader(800), make([]byte, 800)...), encodingCF32, 96000, 68, 800},
		{"size unset while recording", append(extensibleHeader(0xFFFFFFFF), make([]byte, 803)...), encodingCF32, 96000, 68, 800},
		{"size zero", append(extensibleHeader(0), make([]byte, 16)...), encodingCF32, 96000, 68, 16},
		{"declared past the end", append(canonical, make([]byte, 1002)...), encodingCI16, 48000, 44, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := parseWAVHeader(bytes.NewReader(tc.file), int64(len(tc.file)))
			require.NoError(t, err)
			assert.Equal(t, tc.enc, h.encoding())
			assert.InDelta(t, tc.rate, h.sampleRate, 0)
			assert.Equal(t, tc.offset, h.dataOffset)
			assert.Equal(t, tc.dataBytes, h.dataBytes)
		})
	}
}

// FuzzParseWAVHeader: no header makes the parser panic or loop, and whatever it accepts is
// consistent: a supported layout, and a data chunk inside the file holding whole frames.
func FuzzParseWAVHeader(f *testing.F) {
	for _, enc := range []encoding{encodingCF32, encodingCI16, encodingF32Real, encodingS16Real} {
		f.Add(append(wavHeaderBytes(enc, 8000, 16), make([]byte, 64)...))
	}
	f.Add(append(extensibleHeader(64), make([]byte, 64)...))
	f.Add(append(extensibleHeader(0xFFFFFFFF), make([]byte, 9)...))
	withList := wavHeaderBytes(encodingS16Real, 8000, 4)
	withList = append(append(append([]byte{}, withList[:36]...), "LIST\x03\x00\x00\x00abc\x00"...), withList[36:]...)
	f.Add(append(withList, make([]byte, 8)...))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseWAVHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if h.check() != nil {
			t.Fatalf("accepted a header check refuses: %+v", h)
		}
		if h.dataOffset < 12 || h.dataOffset+h.dataBytes > int64(len(data)) || h.dataBytes < 0 {
			t.Fatalf("data chunk %d+%d outside a file of %d bytes", h.dataOffset, h.dataBytes, len(data))
		}
		if h.dataBytes%int64(h.blockAlign) != 0 {
			t.Fatalf("data of %d bytes is not whole frames of %d", h.dataBytes, h.blockAlign)
		}
	})
}
