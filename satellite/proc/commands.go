package proc

import (
	"context"
	"encoding/json"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
)

// Handlers serves process.start, process.stop, process.restart and process.list. Each returns
// the ProcessInfo it acted on (process.list: api.ProcessListResult).
func (m *Manager) Handlers() command.Handlers {
	return command.Handlers{
		api.CommandProcessStart:   m.handleStart,
		api.CommandProcessStop:    m.handleStop,
		api.CommandProcessRestart: m.handleRestart,
		api.CommandProcessList:    m.handleList,
	}
}

func (m *Manager) handleStart(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.ProcessStartPayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	spec, err := SpecFromPayload(p)
	if err != nil {
		return nil, err
	}
	spec.CommandID, spec.CorrelationID = cmd.ID, cmd.CorrelationID
	return result(m.Start(ctx, spec))
}

func (m *Manager) handleStop(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.ProcessStopPayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return result(m.Stop(ctx, p.Name))
}

func (m *Manager) handleRestart(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.ProcessRestartPayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return result(m.Restart(ctx, p.Name))
}

func (m *Manager) handleList(_ context.Context, _ api.Command) (json.RawMessage, error) {
	return json.Marshal(api.ProcessListResult{Processes: m.Processes(), CgroupLimits: m.CgroupLimits()})
}

func result(info api.ProcessInfo, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(info)
}
