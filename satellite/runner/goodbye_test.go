package runner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// TestCleanStopSendsAStoppingHeartbeat: a graceful stop ends with one heartbeat of status
// stopping, sent after the loops stopped, so the backend marks the station offline at once.
func TestCleanStopSendsAStoppingHeartbeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.start(t)
	eventually(t, func() bool { return len(e.fb.Heartbeats(e.id)) >= 1 }, "first heartbeat")
	require.NoError(t, s.stop(t))
	hbs := e.fb.Heartbeats(e.id)
	last := hbs[len(hbs)-1]
	assert.Equal(t, api.StatusStopping, last.Status, "the last heartbeat says the station is stopping")
	for _, hb := range hbs[:len(hbs)-1] {
		assert.NotEqual(t, api.StatusStopping, hb.Status, "only the last one")
	}
}
