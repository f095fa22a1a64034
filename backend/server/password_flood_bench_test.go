package server_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// Issue 11 item 2: 60 clients each sending 5 wrong current_password guesses at once with one
// viewer's token.
const (
	floodClients = 60
	floodGuesses = 5
)

// BenchmarkPasswordChangeFlood replays the flood on POST /api/me/password in-process against a
// user whose password is hashed with the production argon2id parameters (19 MiB per check), and
// reports the peak heap in use and how the 300 requests were answered (per status code). With
// every check unbounded, the heap grows by 19 MiB per request in flight. The flood comes from
// one client address, or from one address per client (so the per-address limit does not
// apply and only the guard bounds the work).
func BenchmarkPasswordChangeFlood(b *testing.B) {
	for _, addresses := range []int{1, floodClients} {
		b.Run("addresses="+strconv.Itoa(addresses), func(b *testing.B) { passwordChangeFlood(b, addresses) })
	}
}

func passwordChangeFlood(b *testing.B, addresses int) {
	st := storetest.Open(b, store.SQLite)
	hasher := auth.Hasher{Params: auth.DefaultParams}
	h := servertest.New(b, st, func(o *server.Options) {
		o.Hasher = hasher
		o.Logger = zap.NewNop() // 300 request lines would drown the result
	})
	u, err := accounts.CreateUser(b.Context(), st, hasher, accounts.NewUser{Email: "viewer@example.org", Password: servertest.Password})
	if err != nil {
		b.Fatal(err)
	}
	bearer := h.TokenClient(b, &servertest.User{User: u, Password: servertest.Password}).Bearer
	handler := h.Server.Handler()
	var peak uint64
	statuses := map[int]*atomic.Int64{}
	for _, code := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		statuses[code] = &atomic.Int64{}
	}
	var other atomic.Int64
	for b.Loop() {
		runtime.GC()
		stop, sampled := make(chan struct{}), make(chan uint64)
		go samplePeakHeap(stop, sampled)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range floodClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range floodGuesses {
					req := httptest.NewRequest(http.MethodPost, "/api/me/password",
						strings.NewReader(`{"current_password":"a wrong guess","new_password":"a brand new password"}`))
					req.RemoteAddr = "192.0.2." + strconv.Itoa(1+i%addresses) + ":1234"
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+bearer)
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, req)
					if n, ok := statuses[rec.Code]; ok {
						n.Add(1)
					} else {
						other.Add(1)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(stop)
		peak = max(peak, <-sampled)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	for code, n := range statuses {
		b.ReportMetric(float64(n.Load())/float64(b.N), "status-"+strconv.Itoa(code)+"/op")
	}
	b.ReportMetric(float64(other.Load())/float64(b.N), "status-other/op")
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
