package statusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/state"
)

// Status is the whole local picture: GET /api/status, and status.json in the state directory
// (written by the runner so `talos-satellite status` can show the last known state when the
// runner is down).
type Status struct {
	SatelliteID string              `json:"satellite_id"`
	TeamID      string              `json:"team_id,omitempty"`
	Name        string              `json:"name"`
	Version     string              `json:"version"`
	Status      api.SatelliteStatus `json:"status"`
	StartedAt   time.Time           `json:"started_at,omitzero"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Backend     BackendHealth       `json:"backend"`
	Poller      any                 `json:"poller,omitempty"`
	Heartbeat   any                 `json:"heartbeat,omitempty"`
	Outbox      OutboxStatus        `json:"outbox"`
	Commands    CommandsStatus      `json:"commands"`
	Tracking    *api.TrackingState  `json:"tracking,omitempty"`
	Processes   []api.ProcessInfo   `json:"processes,omitempty"`
	// CgroupLimits is how the station limits processes (the heartbeat's cgroup_limits: "v1",
	// "v2", or why limits are off), so a local operator sees it without the backend.
	CgroupLimits string `json:"cgroup_limits,omitempty"`
}

// OutboxStatus describes the event queue.
type OutboxStatus struct {
	Depth    int   `json:"depth"`
	Bytes    int64 `json:"bytes"`
	Dropped  int64 `json:"dropped"`
	Rejected int64 `json:"rejected"`
	Sent     int64 `json:"sent"`
	// Quarantined is the number of events the backend refused for good, kept in outbox.db.
	Quarantined int64 `json:"quarantined"`
}

// CommandsStatus describes the executor.
type CommandsStatus struct {
	Queued    int   `json:"queued"`
	Running   int   `json:"running"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Recorded  int   `json:"recorded"`
}

// SaveSnapshot writes status.json into the state directory.
func SaveSnapshot(dir string, s Status) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode status snapshot: %w", err)
	}
	return state.WriteFileAtomic(filepath.Join(dir, state.StatusFile), append(raw, '\n'))
}

// LoadSnapshot reads status.json; ok is false when there is none.
func LoadSnapshot(dir string) (Status, bool, error) {
	path := filepath.Join(dir, state.StatusFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("read state file %s: %w", path, err)
	}
	var s Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return Status{}, false, fmt.Errorf("state file %s is corrupt: %w (delete it; the runner writes it again)", path, err)
	}
	return s, true, nil
}

// Fetch asks a running runner for its status at addr (host:port).
func Fetch(ctx context.Context, addr string) (Status, error) {
	var s Status
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/status", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("status endpoint %s: %w", addr, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status endpoint %s: answered %s", addr, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("status endpoint %s: %w", addr, err)
	}
	return s, nil
}
