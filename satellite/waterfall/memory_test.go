package waterfall

import (
	"context"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocatedBy returns the bytes allocated while fn ran. The caller must not run in parallel with
// other tests: the count is the whole process's.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMemoryDoesNotGrowWithTheRecording renders a 4 MiB and a 16 MiB recording into images of
// the same size and checks that the larger one allocates no more than the smaller (within
// 64 KiB), and less than a quarter of its own size: the file is streamed, never held. (Not
// parallel: it counts the process's allocations.)
func TestMemoryDoesNotGrowWithTheRecording(t *testing.T) {
	dir := t.TempDir()
	s := signal{rate: 48000, amp: 0.1, complex: true, freq: func(float64) float64 { return 3000 }}
	small, large := filepath.Join(dir, "small.cf32"), filepath.Join(dir, "large.cf32")
	writeRecording(t, small, encodingCF32, false, s, 512<<10)
	writeRecording(t, large, encodingCF32, false, s, 2<<20)
	opts := Options{SampleRate: 48000, Height: 64}
	var infoSmall, infoLarge Info
	allocSmall := allocatedBy(func() {
		var err error
		infoSmall, err = RenderFile(context.Background(), small, filepath.Join(dir, "s.png"), opts)
		require.NoError(t, err)
	})
	allocLarge := allocatedBy(func() {
		var err error
		infoLarge, err = RenderFile(context.Background(), large, filepath.Join(dir, "l.png"), opts)
		require.NoError(t, err)
	})
	require.Equal(t, infoSmall.Rows, infoLarge.Rows)
	t.Logf("allocated %d bytes for 4 MiB, %d bytes for 16 MiB", allocSmall, allocLarge)
	assert.Less(t, int64(allocLarge)-int64(allocSmall), int64(64<<10))
	assert.Less(t, allocLarge, uint64(16<<20)/4)
}

// BenchmarkRenderFile200MB renders a 200 MB complex float32 recording (25 M samples, about 8.7
// minutes at 48 kS/s) with the default options: seconds per render (ns/op), throughput (MB/s),
// bytes allocated per render (B/op) and the process's peak resident memory (peak-RSS-MiB,
// which includes the benchmark binary itself).
func BenchmarkRenderFile200MB(b *testing.B) {
	const samples = 25_000_000
	dir := b.TempDir()
	in := filepath.Join(dir, "pass.cf32")
	s := signal{rate: 48000, amp: 0.02, noise: 0.07, complex: true, seed: 9,
		freq: func(t float64) float64 { return 8000 * (1 - t/260) }}
	writeRecording(b, in, encodingCF32, false, s, samples)
	b.SetBytes(samples * 8)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := RenderFile(context.Background(), in, filepath.Join(dir, "pass.png"),
			Options{SampleRate: 48000, CentreHz: 437e6}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB") // Linux reports KiB
	}
}
