package runner

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/statusapi"
)

// TestStatusShowsPartsState: GET /api/status shows what the parts report: processes, the
// cgroup limits mode and tracking, as the heartbeat does.
func TestStatusShowsPartsState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.start(t, newCounter().extras())
	st, err := statusapi.Fetch(context.Background(), s.r.StatusAddr())
	require.NoError(t, err)
	assert.Equal(t, "v1", st.CgroupLimits)
	require.Len(t, st.Processes, 1)
	assert.Equal(t, "decoder", st.Processes[0].Name)
	require.NotNil(t, st.Tracking)
	assert.Equal(t, 25544, st.Tracking.NoradID)
	assert.Equal(t, "v1", s.r.Snapshot().CgroupLimits, "status.json gets it too")
}
