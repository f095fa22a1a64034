package waterfall

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestToneLandsInItsColumn renders a steady tone in every supported layout and checks, in the
// PNG's pixels, that every row is brightest in the tone's column: the decoding of each sample
// format, the order of the columns (negative frequencies left) and the frequency axis mapping
// (Info.ColumnHz) are right.
func TestToneLandsInItsColumn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		file   string
		enc    encoding
		wav    bool
		toneHz float64
	}{
		{"cf32 raw, negative offset", "rec.cf32", encodingCF32, false, -3000},
		{"ci16 raw, positive offset", "rec.cs16", encodingCI16, false, 5000},
		{"cfile extension", "rec.cfile", encodingCF32, false, 7000},
		{"wav stereo float IQ", "rec.wav", encodingCF32, true, -9000},
		{"wav stereo pcm16 IQ", "rec.wav", encodingCI16, true, 2500},
		{"wav mono pcm16 audio", "rec.wav", encodingS16Real, true, 3000},
		{"wav mono float audio", "rec.wav", encodingF32Real, true, 8000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, out := filepath.Join(dir, tc.file), filepath.Join(dir, "w.png")
			s := signal{rate: 32000, amp: 0.3, noise: 0.05, complex: tc.enc.complex(), seed: 7,
				freq: func(float64) float64 { return tc.toneHz }}
			writeRecording(t, in, tc.enc, tc.wav, s, 64*1024)
			opts := Options{FFTSize: 256, Height: 64}
			if !tc.wav {
				opts.SampleRate = s.rate
			}
			info, err := RenderFile(context.Background(), in, out, opts)
			require.NoError(t, err)
			assert.Equal(t, tc.enc.complex(), info.Complex)
			assert.Equal(t, int64(64*1024), info.Samples)
			assert.Equal(t, 64, info.Rows)
			assert.Equal(t, 4, info.FramesPerRow)
			for r, row := range plotLevels(t, out, info) {
				col := brightestColumn(row)
				require.InDeltaf(t, tc.toneHz, info.FirstBinHz+col*info.BinHz, info.BinHz/2, "row %d", r)
			}
		})
	}
}

// TestWAVAudioChirp is the audio case: a mono PCM16 WAV of a tone sweeping from 500 Hz to
// 4.5 kHz in noise, with a LIST chunk before the data; the brightest column of every pixel row
// follows the sweep.
func TestWAVAudioChirp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "pass.wav"), filepath.Join(dir, "pass.png")
	const rate, seconds = 11025.0, 8.0
	sweep := func(t float64) float64 { return 500 + 4000*t/seconds }
	s := signal{rate: rate, amp: 0.2, noise: 0.1, freq: sweep, seed: 3}
	n := int(rate * seconds)
	writeWAVWithList(t, in, s, n)

	info, err := RenderFile(context.Background(), in, out, Options{FFTSize: 512, Height: 100})
	require.NoError(t, err)
	assert.False(t, info.Complex)
	assert.Equal(t, FormatWAV, info.Format)
	assert.Equal(t, 257, info.Bins)
	assert.InDelta(t, 0, info.FirstBinHz, 0)
	frames := n / 512
	for r, row := range plotLevels(t, out, info) {
		first, last := r*info.FramesPerRow, min((r+1)*info.FramesPerRow, frames)
		mid := float64(first+last) / 2 * 512 / rate
		drift := math.Abs(sweep(float64(last)*512/rate) - sweep(float64(first)*512/rate))
		got := info.ColumnHz(0) + brightestColumn(row)*info.BinHz
		require.InDeltaf(t, sweep(mid), got, info.BinHz+drift/2, "row %d", r)
	}
}

// writeWAVWithList writes a mono PCM16 WAV with a LIST chunk of odd length (padded) between fmt
// and data, as many recorders write one.
func writeWAVWithList(t *testing.T, path string, s signal, n int) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "raw.wav")
	writeRecording(t, raw, encodingS16Real, true, s, n)
	data, err := os.ReadFile(raw)
	require.NoError(t, err)
	list := []byte("LIST\x05\x00\x00\x00INFOx\x00")
	withList := append(append(append([]byte{}, data[:36]...), list...), data[36:]...)
	require.NoError(t, os.WriteFile(path, withList, 0o600))
}

// TestSigMFSidecar: a .sigmf-data recording with its .sigmf-meta gets its format, rate, centre
// and start from the sidecar, and options override them.
func TestSigMFSidecar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "obs.sigmf-data"), filepath.Join(dir, "obs.png")
	s := signal{rate: 48000, amp: 0.3, noise: 0.05, complex: true, seed: 1,
		freq: func(float64) float64 { return 4000 }}
	writeRecording(t, in, encodingCI16, false, s, 48000)
	meta := `{"global":{"core:datatype":"ci16_le","core:sample_rate":48000,"core:version":"1.0.0"},
	 "captures":[{"core:sample_start":0,"core:frequency":437.8e6,"core:datetime":"2026-06-27T10:00:00.5Z"}],
	 "annotations":[]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "obs.sigmf-meta"), []byte(meta), 0o600))

	info, err := RenderFile(context.Background(), in, out, Options{FFTSize: 512})
	require.NoError(t, err)
	assert.Equal(t, FormatCI16, info.Format)
	assert.InDelta(t, 48000, info.SampleRate, 0)
	assert.InDelta(t, 437.8e6, info.CentreHz, 0)
	assert.Equal(t, time.Date(2026, 6, 27, 10, 0, 0, 5e8, time.UTC), info.Start)
	assert.InDelta(t, 437.8e6-24000, info.FirstBinHz, 1e-6)
	assert.Equal(t, filepath.Join(dir, "obs.sigmf-meta"), info.Sidecar)
	for r, row := range plotLevels(t, out, info) {
		require.InDeltaf(t, 437.804e6, info.ColumnHz(0)+brightestColumn(row)*info.BinHz, info.BinHz/2, "row %d", r)
	}

	info, err = RenderFile(context.Background(), in, out, Options{FFTSize: 512, SampleRate: 96000, CentreHz: 145.8e6})
	require.NoError(t, err)
	assert.InDelta(t, 96000, info.SampleRate, 0)
	assert.InDelta(t, 145.8e6, info.CentreHz, 0)
}

// TestBadInputs: what cannot be read is refused with an error naming what is wrong, and no PNG
// (nor a temporary file) is left behind.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	header := wavHeaderBytes(encodingS16Real, 8000, 4096)
	patch := func(off int, b ...byte) []byte {
		h := append([]byte{}, header...)
		copy(h[off:], b)
		return append(h, make([]byte, 8192)...)
	}
	cases := []struct {
		name, file string
		data       []byte
		opts       Options
		want       string
	}{
		{"unknown extension", "rec.bin", make([]byte, 4096), Options{SampleRate: 1000}, "cannot tell the format of"},
		{"raw without rate", "rec.cf32", make([]byte, 8192), Options{}, "sample rate unknown"},
		{"wav name, no RIFF", "rec.wav", []byte("ID3\x04 something else"), Options{}, "not a WAV file"},
		{"too short for a frame", "rec.cf32", make([]byte, 8*100), Options{SampleRate: 1000}, "fewer than one FFT frame (1024)"},
		{"empty", "rec.cf32", nil, Options{SampleRate: 1000}, "holds no samples"},
		{"24-bit wav", "rec.wav", patch(34, 24, 0), Options{}, "PCM with 24 bits per sample is not supported"},
		{"4 channels", "rec.wav", patch(22, 4, 0), Options{}, "4 channels"},
		{"mp3 in wav", "rec.wav", patch(20, 0x55, 0), Options{}, "format tag 0x55"},
		{"block align", "rec.wav", patch(32, 3, 0), Options{}, "block align 3"},
		{"zero rate", "rec.wav", patch(24, 0, 0, 0, 0), Options{}, "sample rate 0"},
		{"no data chunk", "rec.wav", header[:36], Options{}, "no data chunk"},
		{"rf64", "rec.wav", append([]byte("RF64"), header[4:]...), Options{}, "RF64"},
		{"bad format option", "rec.cf32", make([]byte, 8192), Options{Format: "mp3"}, `format "mp3"`},
		{"fft not a power of two", "rec.cf32", make([]byte, 8192), Options{SampleRate: 1, FFTSize: 1000}, "FFT size 1000"},
		{"height", "rec.cf32", make([]byte, 8192), Options{SampleRate: 1, Height: 5}, "height 5"},
		{"cells", "rec.cf32", make([]byte, 8192), Options{SampleRate: 1, FFTSize: 8192, Height: 4096}, "cells is more than"},
		{"negative rate", "rec.cf32", make([]byte, 8192), Options{SampleRate: -5}, "sample rate -5"},
		{"dB range", "rec.cf32", make([]byte, 8192), Options{SampleRate: 1, MinDB: -10, MaxDB: -20}, "dB range: max -20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, out := filepath.Join(dir, tc.file), filepath.Join(dir, "out.png")
			require.NoError(t, os.WriteFile(in, tc.data, 0o600))
			_, err := RenderFile(context.Background(), in, out, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "only the input is left")
		})
	}
}

// TestBadSidecar: a sidecar that cannot be used is an error naming the sidecar and the field.
func TestBadSidecar(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"global":{"core:datatype":"cu8","core:sample_rate":1000}}`:                        `core:datatype "cu8" is not supported`,
		`{"global":{"core:datatype":"cf32_le","core:sample_rate":-1}}`:                      "core:sample_rate -1",
		`{"global":{"core:datatype":"cf32_le"},"captures":[{"core:datetime":"yesterday"}]}`: `core:datetime "yesterday"`,
		`{"global":{"core:datatype":"cf32_le"},"captures":[{"core:header_bytes":-4}]}`:      "core:header_bytes -4",
		`not json`: "invalid character",
	}
	for meta, want := range cases {
		dir := t.TempDir()
		in := filepath.Join(dir, "x.sigmf-data")
		require.NoError(t, os.WriteFile(in, make([]byte, 8192), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "x.sigmf-meta"), []byte(meta), 0o600))
		_, err := RenderFile(context.Background(), in, filepath.Join(dir, "x.png"), Options{SampleRate: 1000})
		require.Error(t, err, meta)
		assert.Contains(t, err.Error(), "x.sigmf-meta")
		assert.Contains(t, err.Error(), want)
	}
}

// TestTruncatedWhileRead: a file that is shorter than its size promised when it was probed (cut
// while being rendered) is an error, not a silently shorter waterfall.
func TestTruncatedWhileRead(t *testing.T) {
	t.Parallel()
	in := Input{Format: FormatCF32, Complex: true, SampleRate: 1000, Samples: 8192, enc: encodingCF32}
	_, _, err := render(context.Background(), strings.NewReader(string(make([]byte, 8*5000))), in,
		Options{}.withDefaults())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ended after 4096 of its 8192 samples")
}

// TestCancelled: a cancelled context stops the render and leaves no output.
func TestCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "x.cf32"), filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(in, make([]byte, 8*1024*64), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RenderFile(ctx, in, out, Options{SampleRate: 1000})
	require.ErrorIs(t, err, context.Canceled)
	assert.NoFileExists(t, out)
}

// TestNonFiniteSamples: NaN and infinite samples read as 0 and are counted, so the rest of the
// waterfall still shows.
func TestNonFiniteSamples(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "x.cf32"), filepath.Join(dir, "x.png")
	s := signal{rate: 8000, amp: 0.5, noise: 0.01, complex: true, seed: 2, freq: func(float64) float64 { return 1000 }}
	writeRecording(t, in, encodingCF32, false, s, 16*1024)
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	copy(data[800:], []byte{0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x7f}) // NaN, +Inf
	require.NoError(t, os.WriteFile(in, data, 0o600))
	info, err := RenderFile(context.Background(), in, out, Options{SampleRate: 8000, FFTSize: 256, Height: 16})
	require.NoError(t, err)
	assert.Equal(t, int64(2), info.NonFiniteSamples)
	assert.False(t, math.IsNaN(info.MinDB) || math.IsNaN(info.MaxDB))
	for r, row := range plotLevels(t, out, info) {
		require.InDeltaf(t, 1000, info.ColumnHz(0)+brightestColumn(row)*info.BinHz, info.BinHz/2, "row %d", r)
	}
}

// TestFixedRange: MinDB and MaxDB fix the scale: a full-scale tone (0 dBFS) in a range that
// ends at −10 dB is at the top colour, and silence at the bottom.
func TestFixedRange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "x.cf32"), filepath.Join(dir, "x.png")
	s := signal{rate: 8000, amp: 1, complex: true, seed: 2, freq: func(float64) float64 { return 2000 }}
	writeRecording(t, in, encodingCF32, false, s, 16*1024)
	info, err := RenderFile(context.Background(), in, out, Options{SampleRate: 8000, FFTSize: 256, Height: 16, MinDB: -60, MaxDB: -10})
	require.NoError(t, err)
	assert.InDelta(t, -60, info.MinDB, 0)
	assert.InDelta(t, -10, info.MaxDB, 0)
	tone := int(math.Round((2000 - info.FirstBinHz) / info.BinHz))
	for _, row := range plotLevels(t, out, info) {
		assert.Equal(t, levels-1, row[tone])
		assert.Equal(t, 0, row[tone-64], "far from the tone: below −60 dBFS")
	}
}

// TestSigMFHeaderBytes: core:header_bytes are skipped; read as samples they would shift every
// int16 pair and no row would show the tone in its column.
func TestSigMFHeaderBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	raw, in := filepath.Join(dir, "raw.ci16"), filepath.Join(dir, "obs.sigmf-data")
	s := signal{rate: 8000, amp: 0.5, noise: 0.01, complex: true, seed: 4, freq: func(float64) float64 { return -1500 }}
	writeRecording(t, raw, encodingCI16, false, s, 8192)
	data, err := os.ReadFile(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in, append([]byte("HDR\x00\x01\x02"), data...), 0o600))
	meta := `{"global":{"core:datatype":"ci16_le","core:sample_rate":8000},"captures":[{"core:header_bytes":6}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "obs.sigmf-meta"), []byte(meta), 0o600))

	in2, err := Probe(in, Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(8192), in2.Samples)
	out := filepath.Join(dir, "obs.png")
	info, err := RenderFile(context.Background(), in, out, Options{FFTSize: 256, Height: 16})
	require.NoError(t, err)
	for r, row := range plotLevels(t, out, info) {
		require.InDeltaf(t, -1500, info.ColumnHz(0)+brightestColumn(row)*info.BinHz, info.BinHz/2, "row %d", r)
	}
}

// TestProbe reads what a file is without its samples.
func TestProbe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wav := filepath.Join(dir, "audio.bin") // a WAV is known by its header, whatever its name
	s := signal{rate: 22050, amp: 0.1, freq: func(float64) float64 { return 100 }}
	writeRecording(t, wav, encodingF32Real, true, s, 22050*3)
	in, err := Probe(wav, Options{})
	require.NoError(t, err)
	assert.Equal(t, FormatWAV, in.Format)
	assert.False(t, in.Complex)
	assert.InDelta(t, 22050, in.SampleRate, 0)
	assert.Equal(t, int64(22050*3), in.Samples)
	assert.Equal(t, 3*time.Second, in.Duration())

	raw := filepath.Join(dir, "iq.cf32")
	require.NoError(t, os.WriteFile(raw, make([]byte, 8*1000+5), 0o600)) // a partial last sample
	in, err = Probe(raw, Options{SampleRate: 1e6, CentreHz: 145.8e6})
	require.NoError(t, err)
	assert.Equal(t, FormatCF32, in.Format)
	assert.True(t, in.Complex)
	assert.Equal(t, int64(1000), in.Samples)
	assert.InDelta(t, 145.8e6, in.CentreHz, 0)

	_, err = Probe(dir, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a regular file")
}
