package proc

import (
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
)

// processEvent is the data of the process.* events.
type processEvent struct {
	Name   string `json:"name"`
	TeamID string `json:"team_id"`
	// ObservationID is set for an observation's decoder.
	ObservationID string `json:"observation_id,omitempty"`
	PID           int    `json:"pid,omitempty"`
	Limited       bool   `json:"limited"`
	Cgroup        string `json:"cgroup,omitempty"`
	Restarts      int    `json:"restarts"`
	// Exit details, on process.exited and what follows it.
	ExitCode  *int   `json:"exit_code,omitempty"`
	Signal    string `json:"signal,omitempty"`
	OOMKilled bool   `json:"oom_killed,omitempty"`
	// Reason is why the runner stopped it: stopped, idle_timeout or shutdown.
	Reason           string  `json:"reason,omitempty"`
	RuntimeSeconds   float64 `json:"runtime_seconds,omitempty"`
	RestartInSeconds float64 `json:"restart_in_seconds,omitempty"`
}

// outputEvent is the data of process.output.
type outputEvent struct {
	Name          string `json:"name"`
	TeamID        string `json:"team_id"`
	ObservationID string `json:"observation_id,omitempty"`
	outputBatch
}

// eventData describes p (and r, ex where known); the caller holds m.mu or owns p.
func (m *Manager) eventData(p *process, r *run, ex *exitInfo) processEvent {
	d := processEvent{Name: p.spec.Name, TeamID: p.spec.Team, ObservationID: p.spec.ObservationID,
		Restarts: p.restarts, Reason: p.stopReason}
	if r != nil {
		d.PID, d.Limited, d.Cgroup = r.pid, r.grp.Limited(), r.grp.Path()
	}
	if ex != nil {
		d.ExitCode, d.Signal, d.OOMKilled = ex.code, ex.signal, ex.oomKilled
	}
	return d
}

// event emits one event, tied to the command or observation that started p.
func (m *Manager) event(p *process, typ string, sev api.Severity, msg string, data any) {
	if m.emit == nil {
		return
	}
	ev := events.New(m.clock.Now(), typ, sev, msg, data)
	if p != nil {
		ev.CommandID, ev.CorrelationID = p.spec.CommandID, p.spec.CorrelationID
	}
	m.emit.Emit(ev)
}

func (m *Manager) sendOutput(p *process, b outputBatch) {
	m.event(p, api.EventProcessOutput, api.SeverityInfo, "", outputEvent{Name: p.spec.Name, TeamID: p.spec.Team,
		ObservationID: p.spec.ObservationID, outputBatch: b})
}

func zapName(name string) zap.Field { return zap.String("process", name) }
func zapErr(err error) zap.Field    { return zap.Error(err) }
