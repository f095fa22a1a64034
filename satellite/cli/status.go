package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/satellite/outbox"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/statusapi"
)

func newStatusCmd(s stdio) *cobra.Command {
	var common commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the station's local state (from the running runner, else from the state directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
			}
			rep, err := collectStatus(cmd.Context(), cfg.Status.Listen, cfg.StateDir)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				out := map[string]any{"runner_running": rep.live, "status": rep.st}
				if rep.mismatch != "" {
					out["status_endpoint_mismatch"] = rep.mismatch
				}
				return enc.Encode(out)
			}
			if rep.mismatch != "" {
				if _, err := fmt.Fprintf(s.out, "warning: %s\n", rep.mismatch); err != nil {
					return err
				}
			}
			return printStatus(s.out, rep.st, rep.live, cfg.Status.Listen, time.Now())
		},
	}
	common.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// statusReport is what `status` prints: the status, whether it came from a running runner,
// and why the runner answering on the status address was not used, when it was another
// station's.
type statusReport struct {
	st       statusapi.Status
	live     bool
	mismatch string
}

// collectStatus asks the running runner; when none answers, or the one answering is another
// station (several runners on one machine, each with its own state directory and port), it
// reads the state directory.
func collectStatus(ctx context.Context, listen, dir string) (statusReport, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	id, idErr := state.ReadIdentity(dir)
	live, err := statusapi.Fetch(ctx, listen)
	if err == nil {
		// The runner's state directory may be unreadable to this user: then its answer is
		// the best there is.
		if idErr != nil || live.SatelliteID == id.SatelliteID {
			return statusReport{st: live, live: true}, nil
		}
	}
	if idErr != nil {
		return statusReport{}, idErr
	}
	st, err2 := fromStateDir(dir, id)
	rep := statusReport{st: st}
	if err == nil {
		rep.mismatch = fmt.Sprintf("the runner answering on %s is station %q (satellite %s), not the station of state directory %s "+
			"(%q, satellite %s); showing that directory's last snapshot. Point --status-listen (status.listen) at this station's runner.",
			listen, live.Name, live.SatelliteID, dir, id.Name, id.SatelliteID)
	}
	return rep, err2
}

// fromStateDir builds the status from the state directory's files (no runner needed).
func fromStateDir(dir string, id state.Identity) (statusapi.Status, error) {
	st, _, err := statusapi.LoadSnapshot(dir)
	if err != nil {
		return statusapi.Status{}, err
	}
	st.SatelliteID, st.TeamID, st.Name = id.SatelliteID, id.TeamID, id.Name
	if st.Backend.URL == "" {
		st.Backend.URL = id.BackendURL
	}
	fig, err := outbox.Inspect(dir)
	if err != nil {
		return st, err
	}
	st.Outbox.Depth, st.Outbox.Bytes, st.Outbox.Dropped, st.Outbox.Quarantined = fig.Depth, fig.Bytes, fig.Dropped, fig.Quarantined
	if n, err := state.CountCommands(dir); err == nil {
		st.Commands.Recorded = n
	}
	return st, nil
}

func printStatus(w io.Writer, st statusapi.Status, live bool, listen string, now time.Time) error {
	var b strings.Builder
	line := func(k, format string, args ...any) { fmt.Fprintf(&b, "%-14s %s\n", k, fmt.Sprintf(format, args...)) }
	line("station", "%s (satellite %s, team %s)", st.Name, st.SatelliteID, orNone(st.TeamID))
	if live {
		line("runner", "running %s, status %s (endpoint %s)", st.Version, st.Status, listen)
	} else {
		line("runner", "not running (last snapshot %s)", ago(st.UpdatedAt, now))
	}
	be := st.Backend
	line("backend", "%s %s, last success %s, response %.0f ms", be.URL, orNone(be.State), ago(be.LastSuccess, now), be.ResponseTimeMS)
	if be.LastError != "" {
		line("last error", "%s (%s)", be.LastError, ago(be.LastErrorAt, now))
	}
	line("last poll", "%s", ago(field(st.Poller, "last_poll"), now))
	line("heartbeat", "%s", ago(field(st.Heartbeat, "last_success"), now))
	o := st.Outbox
	line("outbox", "%d events queued (%d bytes), %d dropped, %d sent, %d quarantined", o.Depth, o.Bytes, o.Dropped, o.Sent, o.Quarantined)
	c := st.Commands
	line("commands", "%d queued, %d running, %d succeeded, %d failed, %d recorded", c.Queued, c.Running, c.Succeeded, c.Failed, c.Recorded)
	line("observation", "%s", observation(st))
	line("processes", "%s", processes(st))
	if strings.HasPrefix(st.CgroupLimits, "UNISOLATED") {
		// proc.allow_unisolated: said on a line of its own, in capitals, so nobody misses it.
		line("WARNING", "DECODERS RUN UNISOLATED (proc.allow_unisolated: true): they share this host's network and /tmp, and without root run as the runner's user, which can read its API key")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// processes summarises the decoder processes and whether cgroup limits hold them.
func processes(st statusapi.Status) string {
	if st.CgroupLimits == "" && len(st.Processes) == 0 {
		return "none (no process manager)"
	}
	running := 0
	for _, p := range st.Processes {
		if p.State == "running" {
			running++
		}
	}
	return fmt.Sprintf("%d running of %d listed, cgroup limits %s", running, len(st.Processes), orNone(st.CgroupLimits))
}

func observation(st statusapi.Status) string {
	t := st.Tracking
	if t == nil || t.State == "" || t.State == "idle" {
		return "none"
	}
	return fmt.Sprintf("%s NORAD %d (observation %s) az %.1f° el %.1f°", t.State, t.NoradID, orNone(t.ObservationID),
		t.AzimuthDeg, t.ElevationDeg)
}

// field reads a time from a loop's stats, which arrive as JSON objects.
func field(v any, key string) time.Time {
	raw, err := json.Marshal(v)
	if err != nil {
		return time.Time{}
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return time.Time{}
	}
	s, _ := m[key].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second))
}
