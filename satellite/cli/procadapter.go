package cli

import (
	"context"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/proc"
)

// procAdapter lets the scheduler run an observation's decoder on the process manager
// (schedule.Processes).
type procAdapter struct{ m *proc.Manager }

// Start validates the payload as process.start does and starts the process.
func (a procAdapter) Start(ctx context.Context, p api.ProcessStartPayload) error {
	s, err := proc.SpecFromPayload(p)
	if err != nil {
		return err
	}
	_, err = a.m.Start(ctx, s)
	return err
}

// Stop stops the process: SIGTERM, SIGKILL after the grace period.
func (a procAdapter) Stop(ctx context.Context, name string) error {
	_, err := a.m.Stop(ctx, name)
	return err
}
