package runner

import "github.com/prometheus/client_golang/prometheus"

// Registerer is the registry behind GET /metrics, for parts built outside the runner (the
// station's rotator, tracker and scheduler) to export their metrics on the same endpoint.
func (r *Runner) Registerer() prometheus.Registerer { return r.registry }
