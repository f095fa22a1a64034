package cli

import (
	"encoding/binary"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTone writes n samples of a complex int16 tone at hz (rate 48 kS/s) to path.
func writeTone(t *testing.T, path string, hz float64, n int) {
	t.Helper()
	b := make([]byte, 0, 4*n)
	for i := range n {
		ph := 2 * math.Pi * hz * float64(i) / 48000
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(8000*math.Cos(ph))))
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(8000*math.Sin(ph))))
	}
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestWaterfallCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "rec.bin"), filepath.Join(dir, "rec.png")
	writeTone(t, in, 6000, 256*64)
	code, stdout, errOut := run(t, "waterfall", in, out, "--format", "ci16", "--rate", "48000",
		"--centre", "437e6", "--start", "2026-06-27T01:36:22Z", "--fft", "256", "--height", "32")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, out+": ")
	assert.Contains(t, stdout, "ci16 IQ of 341ms (16384 samples at 48000 Hz), 32 rows of 2 FFT frames (256 bins of 187.5 Hz)")
	f, err := os.Open(out)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Greater(t, cfg.Width, 256)
	assert.Greater(t, cfg.Height, 32)
}

func TestWaterfallCommandRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "rec.cs16")
	writeTone(t, in, 1000, 4096)
	out := filepath.Join(dir, "out.png")
	cases := map[string][]string{
		`--format: format "mp3" is not one of cf32, ci16, wav`: {"--format", "mp3", "--rate", "1"},
		"--rate: -1 is not a sample rate in Hz":                {"--rate", "-1"},
		"--centre: NaN is not a frequency in Hz":               {"--rate", "1", "--centre", "NaN"},
		`--start: "noon" is not an RFC 3339 time`:              {"--rate", "1", "--start", "noon"},
		"sample rate unknown":                                  {},
		"FFT size 100 is not a power of two":                   {"--rate", "1", "--fft", "100"},
		"dB range: max -50 is not above min -40":               {"--rate", "1", "--min-db", "-40", "--max-db", "-50"},
	}
	for want, flags := range cases {
		code, _, errOut := run(t, append([]string{"waterfall", in, out}, flags...)...)
		assert.Equal(t, 1, code, want)
		assert.Contains(t, errOut, want)
	}
	code, _, errOut := run(t, "waterfall", in)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "accepts 2 arg(s), received 1")
	assert.NoFileExists(t, out)
}
