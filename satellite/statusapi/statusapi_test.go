package statusapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/state"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestHealthStates(t *testing.T) {
	t.Parallel()
	h := NewHealth("https://b", prometheus.NewRegistry(), func() time.Time { return t0 })
	assert.Equal(t, StateUnknown, h.Snapshot().State)
	tests := []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, StateConnected},
		{503, &client.APIError{Status: 503}, StateDegraded},
		{0, &client.TransportError{Err: errors.New("refused")}, StateDisconnected},
		{401, &client.APIError{Status: 401}, StateUnauthorized},
	}
	for _, tc := range tests {
		h.ObserveCall("poll", tc.status, 120*time.Millisecond, tc.err)
		s := h.Snapshot()
		assert.Equal(t, tc.want, s.State)
		assert.InDelta(t, 120, s.ResponseTimeMS, 1e-9)
	}
	h.ObserveCall(client.OpLongPoll, 200, 30*time.Second, nil)
	assert.InDelta(t, 120, h.Snapshot().ResponseTimeMS, 1e-9, "a long-poll's wait is not a response time")
	h.ObserveCall("poll", 503, 120*time.Millisecond, &client.APIError{Status: 503})
	h.ObserveCall("poll", 503, 120*time.Millisecond, &client.APIError{Status: 503})
	h.ObserveCall("poll", 401, 120*time.Millisecond, &client.APIError{Status: 401})
	s := h.Snapshot()
	assert.Equal(t, 3, s.ConsecutiveFailures)
	assert.Equal(t, t0, s.LastSuccess)
	assert.Contains(t, s.LastError, "401")
}

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"127.0.0.1:7373", "[::1]:0", "localhost:9", "127.0.0.2:1"} {
		assert.NoError(t, CheckLoopback(ok), ok)
	}
	for _, bad := range []string{"0.0.0.0:7373", ":7373", "192.168.1.4:7373", "[::]:1", "example.org:80", "nonsense"} {
		assert.Error(t, CheckLoopback(bad), bad)
	}
}

func TestServerServesStatusBackendAndMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := NewHealth("https://b", reg, nil)
	h.ObserveCall("heartbeat", 200, time.Millisecond, nil)
	s, err := New(Options{Listen: "127.0.0.1:0", Health: h, Gatherer: reg,
		Snapshot: func() Status { return Status{SatelliteID: "sat-1", Outbox: OutboxStatus{Depth: 4}} }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	addr := s.Addr().String()

	body := get(t, "http://"+addr+"/api/status/backend")
	var bh BackendHealth
	require.NoError(t, json.Unmarshal([]byte(body), &bh))
	assert.Equal(t, StateConnected, bh.State)

	st, err := Fetch(ctx, addr)
	require.NoError(t, err)
	assert.Equal(t, "sat-1", st.SatelliteID)
	assert.Equal(t, 4, st.Outbox.Depth)

	metrics := get(t, "http://"+addr+"/metrics")
	assert.Contains(t, metrics, `talos_satellite_backend_requests_total{op="heartbeat",result="ok"} 1`)

	cancel()
	require.NoError(t, <-done)
	_, err = Fetch(context.Background(), addr)
	assert.Error(t, err)
}

func TestSnapshotFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, ok, err := LoadSnapshot(dir)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, SaveSnapshot(dir, Status{SatelliteID: "s", UpdatedAt: t0}))
	got, ok, err := LoadSnapshot(dir)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, t0, got.UpdatedAt)

	require.NoError(t, os.WriteFile(filepath.Join(dir, state.StatusFile), []byte("{"), 0o600))
	_, _, err = LoadSnapshot(dir)
	require.ErrorContains(t, err, "status.json is corrupt")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}
