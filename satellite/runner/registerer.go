package runner

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Registerer is the registry behind GET /metrics, for parts built outside the runner (the
// station's rotator, tracker and scheduler) to export their metrics on the same endpoint.
func (r *Runner) Registerer() prometheus.Registerer { return r.registry }

// Clock is the runner's clock, for the parts built outside the runner: the whole station keeps
// one time (a fake one in tests).
func (r *Runner) Clock() clock.Clock { return r.clk }
