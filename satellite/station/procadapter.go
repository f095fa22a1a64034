package station

import (
	"context"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/schedule"
)

// procAdapter lets the scheduler run an observation's decoder on the process manager
// (schedule.Processes).
type procAdapter struct{ m *proc.Manager }

// Check applies what Start would (payload, team, allow-list, limits) without starting it.
func (a procAdapter) Check(p api.ProcessStartPayload) error {
	s, err := proc.SpecFromPayload(p)
	if err != nil {
		return err
	}
	return a.m.Check(s)
}

// Start validates the process as process.start does and starts it, its events tied to the
// observation (command id, correlation id, data field observation_id).
func (a procAdapter) Start(ctx context.Context, d schedule.Decoder) error {
	s, err := proc.SpecFromPayload(d.Process)
	if err != nil {
		return err
	}
	s.ObservationID, s.CommandID, s.CorrelationID = d.ObservationID, d.CommandID, d.CorrelationID
	_, err = a.m.Start(ctx, s)
	return err
}

// Stop stops the process: SIGTERM, SIGKILL after the grace period.
func (a procAdapter) Stop(ctx context.Context, name string) error {
	_, err := a.m.Stop(ctx, name)
	return err
}
