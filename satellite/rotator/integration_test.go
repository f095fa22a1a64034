package rotator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/backoff"
)

// TestMonitorOverRealRotctld kills rotctld mid-session and restarts it on the same port: the
// client fails, reconnects on its own (Run), and the Monitor emits rotator.fault once, then
// rotator.recovered, with the client and monitor metrics to match.
func TestMonitorOverRealRotctld(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rotctld")
	reg := prometheus.NewRegistry()
	cm, err := NewClientMetrics(reg)
	require.NoError(t, err)
	rot, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{
		Addr: d.addr(), Metrics: cm,
		Backoff: &backoff.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}})
	require.NoError(t, err)
	rec := &recorder{}
	mon, err := NewMonitor(rot, MonitorOptions{
		Name: "rotctld " + d.addr(), Emitter: rec, Registerer: reg,
		Config: MonitorConfig{PollInterval: 20 * time.Millisecond},
	})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- rot.Run(ctx) }()
	go func() { done <- mon.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, <-done)
		_ = rot.Close()
	})

	require.NoError(t, mon.SetPosition(ctx, 30, 20))
	d.kill()
	eventually(t, 20*time.Second, eventsAre(rec, api.EventRotatorFault))
	require.Error(t, mon.SetPosition(ctx, 31, 20), "calls fail while rotctld is down")

	d.start()
	eventually(t, 20*time.Second, eventsAre(rec, api.EventRotatorFault, api.EventRotatorRecovered))
	eventually(t, 20*time.Second, connectedIs(rot, true))
	require.NoError(t, mon.SetPosition(ctx, 32, 20))
	assert.False(t, mon.Faulted())
	assert.Equal(t, []string{api.EventRotatorFault, api.EventRotatorRecovered}, rec.types(), "exactly one of each")
	assert.GreaterOrEqual(t, counterValue(t, reg, "talos_hamlib_reconnects_total", "rotctld"), 1.0)
	assert.Equal(t, 1.0, counterValue(t, reg, "talos_rotator_events_total", api.EventRotatorFault))
}

func eventsAre(rec *recorder, want ...string) func() error {
	return func() error {
		if got := rec.types(); !slices.Equal(got, want) {
			return fmt.Errorf("events %v, want %v", got, want)
		}
		return nil
	}
}
