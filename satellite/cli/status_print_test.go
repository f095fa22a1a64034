package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/statusapi"
)

func TestPrintStatusProcesses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		st   statusapi.Status
		want string
	}{
		{"no manager", statusapi.Status{}, "processes      none (no process manager)"},
		{"limited", statusapi.Status{CgroupLimits: "v1", Processes: []api.ProcessInfo{
			{Name: "decoder", State: "running"}, {Name: "old", State: "exited"}}},
			"processes      1 running of 2 listed, cgroup limits v1"},
		{"limits off", statusapi.Status{CgroupLimits: "off: not running as root"},
			"processes      0 running of 0 listed, cgroup limits off: not running as root"},
		{"unisolated", statusapi.Status{CgroupLimits: "UNISOLATED: not running as root (euid 1000); cgroup limits off: x"},
			"WARNING        DECODERS RUN UNISOLATED (proc.allow_unisolated: true): they share this host's network and /tmp, and without root run as the runner's user, which can read its API key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			require.NoError(t, printStatus(&b, tc.st, true, "127.0.0.1:7373", time.Now()))
			assert.Contains(t, b.String(), tc.want+"\n")
		})
	}
}

func TestPrintStatusShowsQuarantine(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	st := statusapi.Status{Outbox: statusapi.OutboxStatus{Depth: 2, Bytes: 300, Dropped: 1, Sent: 9, Quarantined: 4}}
	require.NoError(t, printStatus(&b, st, true, "127.0.0.1:7373", time.Now()))
	assert.Contains(t, b.String(), "outbox         2 events queued (300 bytes), 1 dropped, 9 sent, 4 quarantined\n")
}
