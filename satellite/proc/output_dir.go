package proc

import (
	"fmt"
	"path"

	"github.com/talos-gs/talos/backend/api"
)

// EnvOutputDir is the variable naming a process's output directory. Like every TALOS_*
// variable it is set by the station only: a command asking for it is refused
// (api.DeniedEnvName), and nothing of the allow-list can override it.
const EnvOutputDir = "TALOS_OUTPUT_DIR"

// OutputDir is the output directory of one process: inside its team's directory, owned by the
// team's user, collected as artifacts once the process has exited for good.
type OutputDir struct {
	// Path is the absolute directory.
	Path string
	// Source and SourceID bind the files: api.SourceObservation and the observation id, or
	// api.SourceProcess and the process.start command id.
	Source, SourceID string
	Team             string
	// Kinds are the kinds to upload (empty: all).
	Kinds []string
}

// Outputs is told about output directories: Opened before the process starts (so a runner
// stopped before it exits still collects them at its next start), Closed once the process has
// exited for good (not before a restart). Closed runs on its own goroutine.
type Outputs interface {
	Opened(d OutputDir) error
	Closed(d OutputDir)
}

// outputRel is the output directory of spec relative to its team directory, or "" when the
// process gets none: an observation's decoder always gets one, a process.start one only with
// output enabled.
func outputRel(s Spec) (rel, source, id string) {
	switch {
	case s.ObservationID != "":
		source, id = api.SourceObservation, s.ObservationID
	case s.Output != nil && s.Output.Enabled && s.CommandID != "":
		source, id = api.SourceProcess, s.CommandID
	default:
		return "", "", ""
	}
	return path.Join("output", fmt.Sprintf("%s-%s", source, id)), source, id
}

// prepareOutput makes the output directory (owned by the team's user) and tells Outputs.
func (m *Manager) prepareOutput(p *process) error {
	rel, source, id := outputRel(p.spec)
	m.mu.Lock()
	open := p.output != nil
	m.mu.Unlock()
	if rel == "" || m.outputs == nil || open {
		return nil
	}
	if api.ValidateObservationID(id) != nil {
		return fmt.Errorf("output directory: %q is not a valid observation or command id", id)
	}
	dir, err := workDir(p.id, rel, m.root)
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	d := OutputDir{Path: dir, Source: source, SourceID: id, Team: p.spec.Team}
	if p.spec.Output != nil {
		d.Kinds = p.spec.Output.Kinds
	}
	if err := m.outputs.Opened(d); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	m.mu.Lock()
	p.output = &d
	m.mu.Unlock()
	return nil
}

// closeOutput hands the directory over for collection; the caller holds no lock.
func (m *Manager) closeOutput(d *OutputDir) {
	if d == nil || m.outputs == nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.outputs.Closed(*d)
	}()
}
