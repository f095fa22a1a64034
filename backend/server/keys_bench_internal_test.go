package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// fleetKeys is the fleet of BenchmarkFleetKeyChecks: more stations than the 10,000 entries of the
// verified-key cache that stood here before decision 0093, whose LRU then missed on every check of
// a fleet cycling through its keys, each miss an argon2id of 19 MiB and ~0.1 s of a core.
const fleetKeys = 12_000

// BenchmarkFleetKeyChecks authenticates every one of fleetKeys distinct satellite keys once per
// op, as a fleet's polls and heartbeats arrive, on each dialect: one row read by key id plus one
// keyed hash per request, from GOMAXPROCS goroutines. It reports the checks per second the
// backend sustains (the former design managed ~30-60/s at this size, BenchmarkKeyCheck/argon2id
// being the cost of each of its misses) and the bytes allocated per check.
func BenchmarkFleetKeyChecks(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		// Set up once per dialect: b.Run calls its function again for every b.N it tries.
		st := storetest.Open(b, d)
		s, err := New(Options{Store: st, Logger: zap.NewNop(), SecretKey: bytes.Repeat([]byte("k"), 32),
			Hasher: auth.Hasher{Params: auth.DefaultParams}})
		if err != nil {
			b.Fatal(err)
		}
		keys := registerFleet(b, s, st, fleetKeys)
		b.Run(string(d), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			for b.Loop() {
				checkFleet(b, s, keys)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			checks := float64(b.N * len(keys))
			b.ReportMetric(checks/elapsed.Seconds(), "checks/s")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/checks, "B/check")
		})
	}
}

// checkFleet authenticates each key once, spread over GOMAXPROCS goroutines.
func checkFleet(b *testing.B, s *Server, keys []auth.Key) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/api/satellites/x/commands", nil)
			for i := next.Add(1) - 1; i < int64(len(keys)); i = next.Add(1) - 1 {
				if _, err := s.satelliteKey(c, keys[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// registerFleet stores n satellites with keyed API keys, as registration makes them (in
// transactions of a thousand, to spare the setup time), and returns their keys.
func registerFleet(b *testing.B, s *Server, st *store.Store, n int) []auth.Key {
	b.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: n, UsesLeft: n}
	if err := st.CreateRegistrationToken(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	keys := make([]auth.Key, n)
	for from := 0; from < n; from += 1000 {
		err := st.Tx(b.Context(), func(tx *store.Store) error {
			for i := from; i < min(from+1000, n); i++ {
				k, err := auth.NewKey(PrefixSatellite)
				if err != nil {
					return err
				}
				keys[i] = k
				_, err = tx.RegisterSatellite(b.Context(), store.Registration{TokenID: tok.ID, Name: fmt.Sprintf("station %d", i),
					APIKeyID: k.ID, APIKeyHash: s.keyHash.Hash(k.Secret), HeartbeatSeconds: 30})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return keys
}
