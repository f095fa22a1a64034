package proc

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// capLines reads the Cap* and Uid lines of a /proc/<pid>/status text.
func capLines(status string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && (strings.HasPrefix(k, "Cap") || k == "Uid") {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// TestTeamProcessHasNoCapabilities checks decision 0025: the runner runs as root, and a team's
// process, switched to its team user (root → non-root clears the permitted, effective and
// ambient sets), holds no capability at all, so it can neither setuid to another user nor
// signal another team's processes.
func TestTeamProcessHasNoCapabilities(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	self, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	require.NotEqual(t, "0000000000000000", capLines(string(self))["CapEff"], "the runner (this test, root) holds capabilities")

	m, rec := newTestManager(t, testConfig(t), nil)
	runManager(t, m)
	team := newTeam(t, m)
	_, err = m.Start(context.Background(), Spec{Name: "caps", Team: team,
		Command: []string{"grep", "-E", "^(Cap(Inh|Prm|Eff|Bnd|Amb)|Uid):", "/proc/self/status"}})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "caps", 1)
	got := capLines(rec.output("caps"))
	t.Logf("child: %v", got)
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		require.Contains(t, got, set)
		assert.Equal(t, "0000000000000000", got[set], "%s of a team process", set)
	}
	uids := strings.Fields(got["Uid"])
	require.Len(t, uids, 4, "real, effective, saved, filesystem uid")
	for _, u := range uids {
		n, err := strconv.Atoi(u)
		require.NoError(t, err)
		assert.NotZero(t, n, "no uid of a team process is root")
	}
}
