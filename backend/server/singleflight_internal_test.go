package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestConcurrentRequestsWithOneKeyShareOneCheck (decision 0093): n requests of one station
// started together, its key still hashed with argon2id (the restart storm of issue 19: a
// station's poll and heartbeat arrive at once), run one argon2id check and one migration. The
// server's only argon2id slot is held until every other request has joined the first one's check.
func TestConcurrentRequestsWithOneKeyShareOneCheck(t *testing.T) {
	t.Parallel()
	const n = 8
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		s, err := New(Options{Store: st, Logger: zaptest.NewLogger(t), SecretKey: bytes.Repeat([]byte("k"), 32),
			Hasher: auth.Hasher{Params: auth.TestParams}, Verify: auth.VerifyLimits{Concurrent: 1, MaxWait: time.Minute}})
		require.NoError(t, err)
		sat, key := registerOne(t, s, st)
		argon, err := s.hasher.Hash(key.Secret)
		require.NoError(t, err)
		replaced, err := st.ReplaceSatelliteKeyHash(t.Context(), key.ID, sat.APIKeyHash, argon)
		require.NoError(t, err)
		require.True(t, replaced)

		release := holdSlot(t, s)
		start := make(chan struct{})
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest(http.MethodGet, "/api/satellites/"+sat.ID+"/commands", nil)
				if i%2 == 1 {
					req = httptest.NewRequest(http.MethodPost, "/api/satellites/"+sat.ID+"/heartbeat",
						strings.NewReader(`{"status":"online","version":"0.1.0","uptime_seconds":60}`))
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("Authorization", "Bearer "+key.String())
				<-start
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				codes <- rec.Code
			}()
		}
		close(start)
		require.Eventually(t, func() bool {
			return counterSum(t, s, "talos_auth_key_checks_joined_total") == n-1
		}, 10*time.Second, time.Millisecond, "every request but the first joins its check")
		release()
		wg.Wait()
		close(codes)
		for code := range codes {
			assert.Equal(t, http.StatusOK, code)
		}
		assert.InDelta(t, 1, counterSum(t, s, "talos_auth_key_checks_total"), 0, "one check in all")
		got, err := st.SatelliteByID(t.Context(), sat.ID)
		require.NoError(t, err)
		assert.True(t, auth.IsKeyHash(got.APIKeyHash), "migrated by the shared check")
	})
}

// counterSum is the sum of every series of the counter name on s's registry.
func counterSum(t *testing.T, s *Server, name string) float64 {
	families, err := s.Registry().Gather()
	assert.NoError(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// registerOne registers a satellite through the API with a fresh registration token and returns
// its row and key.
func registerOne(t *testing.T, s *Server, st *store.Store) (*store.Satellite, auth.Key) {
	t.Helper()
	token, _, err := s.sat.tokens.Issue(t.Context(), st, regtoken.Request{})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/api/satellites/register",
		strings.NewReader(`{"name":"roof","location":{"lat":48.1,"lon":11.6,"alt_m":520},"version":"0.1.0"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var resp api.RegisterResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	key, err := auth.ParseKey(resp.APIKey)
	require.NoError(t, err)
	sat, err := st.SatelliteByID(t.Context(), resp.SatelliteID)
	require.NoError(t, err)
	return sat, key
}
