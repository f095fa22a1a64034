package proc

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// outputLog records what the manager tells Outputs.
type outputLog struct {
	mu             sync.Mutex
	opened, closed []OutputDir
}

func (o *outputLog) Opened(d OutputDir) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opened = append(o.opened, d)
	return nil
}

func (o *outputLog) Closed(d OutputDir) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = append(o.closed, d)
}

func (o *outputLog) closedDirs() []OutputDir {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]OutputDir(nil), o.closed...)
}

// TestOutputDirForProcessStartWithOutput: a process.start with output on gets
// TALOS_OUTPUT_DIR inside its team directory; what it writes there is handed over once it
// exits. One without output gets none, and a command cannot set the variable itself.
func TestOutputDirForProcessStartWithOutput(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	cfg.Programs = map[string]Program{"writer": {Path: "/bin/sh", Args: []string{"-c",
		`if [ -n "$TALOS_OUTPUT_DIR" ]; then echo frame > "$TALOS_OUTPUT_DIR/frames.jsonl"; echo has-dir; else echo no-dir; fi`}}}
	outs := &outputLog{}
	m, err := New(context.Background(), Options{Config: cfg, Emitter: &recorder{}, Outputs: outs})
	require.NoError(t, err)
	runManager(t, m)
	h := m.Handlers()
	team := newTeam(t, m)

	start := func(id, name string, output *api.OutputSettings) {
		payload, err := json.Marshal(api.ProcessStartPayload{Name: name, TeamID: team, Program: "writer", Output: output})
		require.NoError(t, err)
		_, err = h[api.CommandProcessStart](context.Background(), api.Command{ID: id, Type: api.CommandProcessStart, Payload: payload})
		require.NoError(t, err)
	}
	cmdID := "0b6f4f0e-0000-4000-8000-000000000001"
	start(cmdID, "with", &api.OutputSettings{Enabled: true, Kinds: []string{api.ArtifactFrames}})
	require.Eventually(t, func() bool { return len(outs.closedDirs()) == 1 }, 10*time.Second, 10*time.Millisecond)
	d := outs.closedDirs()[0]
	assert.Equal(t, api.SourceProcess, d.Source)
	assert.Equal(t, cmdID, d.SourceID)
	assert.Equal(t, []string{api.ArtifactFrames}, d.Kinds)
	assert.Equal(t, filepath.Join(cfg.WorkDir, team, "output", "process-"+cmdID), d.Path)
	b, err := os.ReadFile(filepath.Join(d.Path, "frames.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, "frame\n", string(b), "the process wrote into TALOS_OUTPUT_DIR")

	start("0b6f4f0e-0000-4000-8000-000000000002", "without", nil)
	ex := m.waitExited(t, "without")
	assert.Equal(t, api.ProcessExited, ex)
	assert.Len(t, outs.closedDirs(), 1, "no output directory without output enabled")

	err = (&api.ProcessStartPayload{Name: "x", TeamID: team, Program: "writer",
		Env: map[string]string{EnvOutputDir: "/etc"}}).Validate()
	require.Error(t, err, "a command may not set TALOS_OUTPUT_DIR")
	assert.Contains(t, err.Error(), "env."+EnvOutputDir)
}

// waitExited waits until the named process has exited and returns its state.
func (m *Manager) waitExited(t *testing.T, name string) string {
	t.Helper()
	var st string
	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		p, ok := m.procs[name]
		if ok {
			st = p.state
		}
		return ok && !live(p.state)
	}, 10*time.Second, 10*time.Millisecond)
	return st
}

func TestOutputRel(t *testing.T) {
	t.Parallel()
	on := &api.OutputSettings{Enabled: true}
	for _, c := range []struct {
		spec            Spec
		rel, source, id string
	}{
		{Spec{ObservationID: "obs-1", CommandID: "c1"}, "output/observation-obs-1", api.SourceObservation, "obs-1"},
		{Spec{ObservationID: "obs-1", Output: &api.OutputSettings{Kinds: []string{"iq"}}}, "output/observation-obs-1", api.SourceObservation, "obs-1"},
		{Spec{CommandID: "c1", Output: on}, "output/process-c1", api.SourceProcess, "c1"},
		{Spec{CommandID: "c1", Output: &api.OutputSettings{}}, "", "", ""},
		{Spec{CommandID: "c1"}, "", "", ""},
		{Spec{Output: on}, "", "", ""},
	} {
		rel, source, id := outputRel(c.spec)
		assert.Equal(t, []string{c.rel, c.source, c.id}, []string{rel, source, id}, "%+v", c.spec)
	}
}
