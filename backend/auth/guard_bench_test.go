package auth

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodSize is how many wrong-secret requests arrive at once: 50 unguarded peak near
// 1.5 GiB of heap (kept this small so `make bench` does not exhaust a CI machine's memory).
const floodSize = 50

// BenchmarkFloodOfDistinctKeyIDs: floodSize requests at once, each naming a different key id with a
// wrong secret (the failure limit does not apply), verified with DefaultParams with and without
// the guard (2 slots, the default queue). It reports the peak heap in use and how many were
// refused as busy: unguarded, all hash at once; guarded, at most 2 do and the rest wait or
// get ErrBusy.
func BenchmarkFloodOfDistinctKeyIDs(b *testing.B) {
	h := Hasher{Params: DefaultParams}
	hash, err := h.Hash("the real secret")
	if err != nil {
		b.Fatal(err)
	}
	for _, guarded := range []bool{false, true} {
		b.Run("guarded="+strconv.FormatBool(guarded), func(b *testing.B) {
			g := NewGuard(VerifyLimits{Concurrent: 2, MaxWait: 100 * time.Millisecond}, nil)
			var peak uint64
			var busy atomic.Int64
			for b.Loop() {
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go samplePeakHeap(stop, sampled)
				var wg sync.WaitGroup
				for i := range floodSize {
					wg.Add(1)
					go func() {
						defer wg.Done()
						check := func() error { return h.Verify(hash, "wrong secret") }
						if !guarded {
							_ = check()
							return
						}
						err := g.Verify(context.Background(), KindSatelliteKey, strconv.Itoa(i), check)
						if errors.Is(err, ErrBusy) {
							busy.Add(1)
						}
					}()
				}
				wg.Wait()
				close(stop)
				peak = max(peak, <-sampled)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(busy.Load())/float64(b.N), "busy/op")
		})
	}
}

// samplePeakHeap reports the largest HeapInuse seen until stop closes.
func samplePeakHeap(stop <-chan struct{}, out chan<- uint64) {
	var m runtime.MemStats
	var peak uint64
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
		select {
		case <-stop:
			out <- peak
			return
		case <-t.C:
		}
	}
}
