package runner

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/state"
)

// Two config.update commands run by different workers at once: neither change may be lost,
// in the loops or in identity.json.
func TestConcurrentConfigUpdatesKeepEveryChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lvl := zap.NewAtomicLevel()
	r, err := NewWithOptions(e.cfg, zap.NewNop(), Options{Clock: e.clk, Level: &lvl})
	require.NoError(t, err)
	t.Cleanup(r.closeStores)

	poll := r.intervals().PollSeconds
	for round := range 40 {
		hb, ev, lp := 10+round, 20+round, 30+round
		updates := []api.ConfigUpdatePayload{{HeartbeatSeconds: &hb}, {EventsSeconds: &ev}, {LongPollSeconds: &lp}}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, p := range updates {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := r.ApplyConfig(p)
				assert.NoError(t, err)
			}()
		}
		close(start)
		wg.Wait()

		want := api.Intervals{PollSeconds: poll, HeartbeatSeconds: hb, EventsSeconds: ev, LongPollSeconds: lp}
		id, _, err := state.LoadIdentity(e.cfg.StateDir)
		require.NoError(t, err)
		require.Equal(t, want, id.Intervals, "round %d: identity.json lost a change", round)
		require.Equal(t, want, r.intervals(), "round %d: the runner lost a change", round)
	}
}

// A bad log level refuses the whole update: nothing is changed or saved.
func TestConfigUpdateWithBadLevelChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lvl := zap.NewAtomicLevel()
	r, err := NewWithOptions(e.cfg, zap.NewNop(), Options{Clock: e.clk, Level: &lvl})
	require.NoError(t, err)
	t.Cleanup(r.closeStores)
	before, beat := r.intervals(), r.heartbeat.Interval()
	hb := before.HeartbeatSeconds + 7
	_, err = r.ApplyConfig(api.ConfigUpdatePayload{HeartbeatSeconds: &hb, LogLevel: "loud"})
	require.ErrorContains(t, err, "log_level")
	assert.Equal(t, before, r.intervals())
	assert.Equal(t, beat, r.heartbeat.Interval(), "the heartbeat loop kept its interval")
	id, _, err := state.LoadIdentity(e.cfg.StateDir)
	require.NoError(t, err)
	assert.Equal(t, before, id.Intervals)
}
