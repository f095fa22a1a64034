package servertest

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
)

// WithArtifacts turns the artifact routes on (Options.Artifacts), storing under dir: objects/
// and the tus staging directory uploads/. Servers built on the same dir share both, as a
// restarted backend does.
func WithArtifacts(t testing.TB, dir string, policy artifacts.Policy) func(*server.Options) {
	return func(o *server.Options) {
		fs, err := artifacts.NewFS(filepath.Join(dir, "objects"))
		if err != nil {
			t.Fatalf("servertest: artifact storage: %v", err)
		}
		o.Artifacts = artifacts.New(artifacts.Service{Store: o.Store, Storage: fs, Log: zaptest.NewLogger(t), Policy: policy})
		o.UploadDir = filepath.Join(dir, "uploads")
		if err := os.MkdirAll(o.UploadDir, 0o700); err != nil {
			t.Fatalf("servertest: upload dir: %v", err)
		}
	}
}

// SendObservation records an observation.schedule for observationID as delivered to the
// satellite (what binds uploads to it), without going through the queue.
func SendObservation(t testing.TB, st *store.Store, satelliteID, teamID, observationID string) {
	t.Helper()
	payload := `{"observation_id":"` + observationID + `"}`
	now := st.Now()
	if err := st.DB().Create(&store.Command{ID: store.NewID(), SatelliteID: satelliteID, TeamID: teamID,
		Type: api.CommandObservationSchedule, Priority: api.PriorityNormal, Payload: &payload, Status: api.CommandDelivered,
		CreatedAt: now, UpdatedAt: now, DeliveredAt: &now}).Error; err != nil {
		t.Fatalf("servertest: record observation.schedule: %v", err)
	}
}
