package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/proc/proctest"
)

// withArtifacts turns on the backend's artifact storage under dir (every instance of the
// backend shares it, so a restart keeps uploads in progress).
func withArtifacts(t testing.TB, dir string) func(*server.Options) {
	return servertest.WithArtifacts(t, dir, artifacts.Policy{})
}

// TestProcessOutputUploaded: a process.start with output on, sent through the user API to a
// station assembled as `talos-satellite run` assembles it, writes a recording and a frames file
// into TALOS_OUTPUT_DIR and exits; the station hashes and uploads both over tus, and users
// list them, download them whole (same SHA-256) and read the frames index.
func TestProcessOutputUploaded(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL, withArtifacts(t, t.TempDir()))
		c := seed(t, b)
		proctest.RemoveTeamUsers(t, c.team.ID)
		dir, id := register(t, b.URL, c.registrationToken(t), "Recording station")
		for _, p := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir)} {
			require.NoError(t, os.Chmod(p, 0o711)) //nolint:gosec // traversable, not listable
		}
		runAssembledStation(t, dir)

		payload := api.ProcessStartPayload{Name: "rec", TeamID: c.team.ID, Program: "recorder-sim",
			Output: &api.OutputSettings{Enabled: true}}
		r := c.operator.Do(t, http.MethodPost, "/api/satellites/"+id+"/commands",
			map[string]any{"type": api.CommandProcessStart, "payload": payload})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var cmd commandView
		r.JSON(t, &cmd)

		type artifactView struct {
			ID, Kind, Name, SHA256 string
			Size                   int64
		}
		var list struct{ Artifacts []artifactView }
		listPath := "/api/teams/" + c.team.ID + "/artifacts?command_id=" + cmd.ID
		eventually(t, func() bool {
			r := c.operator.Do(t, http.MethodGet, listPath, nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			r.JSON(t, &list)
			return len(list.Artifacts) == 2
		}, "both output files became artifacts")
		byName := map[string]artifactView{}
		for _, a := range list.Artifacts {
			byName[a.Name] = a
		}
		iq := byName["pass.cf32"]
		assert.Equal(t, api.ArtifactIQ, iq.Kind)
		assert.Equal(t, int64(3000000), iq.Size)
		r = c.operator.Do(t, http.MethodGet, "/api/teams/"+c.team.ID+"/artifacts/"+iq.ID+"/content", nil)
		require.Equal(t, http.StatusOK, r.Status)
		sum := sha256.Sum256(r.Body)
		assert.Equal(t, iq.SHA256, hex.EncodeToString(sum[:]), "the file arrived whole")
		assert.Equal(t, api.ArtifactFrames, byName["frames.jsonl"].Kind)

		r = c.operator.Do(t, http.MethodGet, "/api/teams/"+c.team.ID+"/frames?command_id="+cmd.ID, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var frames struct{ Count int }
		r.JSON(t, &frames)
		assert.Equal(t, 2, frames.Count)
	})
}
