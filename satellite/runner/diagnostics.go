package runner

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// Diagnostics answers diagnostics.collect. It carries no secrets: the API key lives only in
// its state file and the configuration holds paths, not key material.
func (r *Runner) Diagnostics(ctx context.Context) (api.DiagnosticsResult, error) {
	host, _ := os.Hostname()
	sys, _ := r.system.Sample(ctx) // partial figures are still useful
	recorded, _ := r.commands.Count()
	return api.DiagnosticsResult{
		Version: api.Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Hostname: host, Time: r.clk.Now().UTC(), UptimeSeconds: int64(r.clk.Now().Sub(r.started) / time.Second),
		Status: r.Status(), Config: r.configSummary(),
		State: map[string]any{
			"state_dir": r.cfg.StateDir, "satellite_id": r.identity.SatelliteID, "team_id": r.identity.TeamID,
			"name": r.identity.Name, "registered_at": r.identity.RegisteredAt, "intervals": r.intervals(),
			"commands_recorded": recorded, "maintenance": r.maintenance.Load(),
		},
		OutboxDepth: r.outbox.Depth(), EventsDropped: r.outbox.Dropped(),
		RecentErrors: r.recent.Lines(), System: sys, Backend: r.health.Snapshot(),
	}, nil
}

// configSummary lists the settings in force. Certificate and key files appear as paths only.
func (r *Runner) configSummary() map[string]any {
	c := r.cfg
	return map[string]any{
		"backend_url": r.backendURL(), "backend_timeout": c.Backend.Timeout.String(), "ca_file": c.Backend.CAFile,
		"client_cert": c.Backend.CertFile != "", "insecure": c.Backend.Insecure,
		"log_level": r.opts.Level.String(), "log_format": c.Log.Format, "status_listen": c.Status.Listen,
		"long_poll": c.Poll.LongPoll, "outbox_max_events": c.Outbox.MaxEvents, "outbox_max_bytes": c.Outbox.MaxBytes,
		"outbox_batch_size": c.Outbox.BatchSize, "executor_workers": c.Executor.Workers,
		"drain_timeout": c.Executor.DrainTimeout.String(), "flush_timeout": c.Outbox.FlushTimeout.String(),
		"heartbeat_interval": r.heartbeat.Interval().String(), "events_interval": r.outbox.FlushInterval().String(),
		"command_types": r.executor.Types(),
	}
}
