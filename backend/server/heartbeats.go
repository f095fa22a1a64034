package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// heartbeatRequest is api.Heartbeat with its validation.
type heartbeatRequest api.Heartbeat

const maxHeartbeatProcesses = api.MaxHeartbeatProcesses

func (r *heartbeatRequest) validate() error {
	switch r.Status {
	case api.StatusOnline, api.StatusDegraded, api.StatusMaintenance, api.StatusStopping:
	default:
		return errInvalid("status", "status must be online, degraded, maintenance or stopping")
	}
	if err := validText("version", r.Version, 0, 100); err != nil {
		return err
	}
	if err := nonNegative(count{"uptime_seconds", float64(r.UptimeSeconds)},
		count{"outbox_depth", float64(r.OutboxDepth)}, count{"events_dropped", float64(r.EventsDropped)}); err != nil {
		return err
	}
	if err := validSystem(&r.System); err != nil {
		return err
	}
	if err := validProcesses(r.Processes); err != nil {
		return err
	}
	if err := validTracking(r.Tracking); err != nil {
		return err
	}
	if err := validTags(r.Tags); err != nil {
		return err
	}
	return validText("cgroup_limits", r.CgroupLimits, 0, api.MaxCgroupLimitsLen)
}

// count is a heartbeat figure that cannot be negative, with the JSON path that names it.
type count struct {
	field string
	v     float64
}

// nonNegative names the first of counts that is negative.
func nonNegative(counts ...count) error {
	for _, c := range counts {
		if c.v < 0 {
			return errInvalid(c.field, "%s must not be negative", c.field)
		}
	}
	return nil
}

func validProcesses(ps []api.ProcessInfo) error {
	if len(ps) > maxHeartbeatProcesses {
		return errInvalid("processes", "at most %d processes", maxHeartbeatProcesses)
	}
	for i := range ps {
		p := &ps[i]
		at := fmt.Sprintf("processes[%d].", i)
		if err := validText(at+"name", p.Name, 1, 100); err != nil {
			return err
		}
		for _, f := range []struct{ name, v string }{{"team_id", p.TeamID}, {"state", p.State}, {"signal", p.Signal}} {
			if err := validText(at+f.name, f.v, 0, 100); err != nil {
				return err
			}
		}
		if err := nonNegative(count{at + "pid", float64(p.PID)}, count{at + "cpu_percent", p.CPUPercent},
			count{at + "restarts", float64(p.Restarts)}); err != nil {
			return err
		}
	}
	return nil
}

func validTracking(t *api.TrackingState) error {
	if t == nil {
		return nil
	}
	switch t.State {
	case "idle", "preparing", "tracking", "parking":
	default:
		return errInvalid("tracking.state", "tracking.state must be idle, preparing, tracking or parking")
	}
	if err := validText("tracking.observation_id", t.ObservationID, 0, 100); err != nil {
		return err
	}
	return nonNegative(count{"tracking.norad_id", float64(t.NoradID)}, count{"tracking.pointing_error_deg", t.PointingErrorDeg},
		count{"tracking.downlink_hz", t.DownlinkHz})
}

func validSystem(m *api.SystemMetrics) error {
	pct := func(field string, v float64) error {
		if !(v >= 0 && v <= 100) {
			return errInvalid(field, "%s must be 0 to 100", field)
		}
		return nil
	}
	for _, p := range []struct {
		field string
		v     float64
	}{{"system.cpu_percent", m.CPUPercent}, {"system.memory.percent", m.Memory.Percent}, {"system.disk.percent", m.Disk.Percent}} {
		if err := pct(p.field, p.v); err != nil {
			return err
		}
	}
	if err := nonNegative(count{"system.load.load1", m.Load.Load1}, count{"system.load.load5", m.Load.Load5},
		count{"system.load.load15", m.Load.Load15}); err != nil {
		return err
	}
	if t := m.TemperatureC; t != nil && !(*t >= -100 && *t <= 200) {
		return errInvalid("system.temperature_c", "system.temperature_c must be -100 to 200 °C")
	}
	return nil
}

// heartbeat stores a satellite's health report and answers with the next interval.
func (s *Server) heartbeat(c *gin.Context) {
	var req heartbeatRequest
	if !s.bind(c, &req) {
		return
	}
	report, err := json.Marshal(api.Heartbeat(req))
	if err != nil {
		s.fail(c, err)
		return
	}
	sat := authSatellite(c)
	hb := &store.Heartbeat{SatelliteID: sat.ID, Status: string(req.Status), Version: req.Version,
		UptimeSeconds: req.UptimeSeconds, CPUPercent: req.System.CPUPercent,
		MemoryPercent: req.System.Memory.Percent, DiskPercent: req.System.Disk.Percent, Report: string(report),
		Tags: req.Tags}
	res, err := s.store.RecordHeartbeat(c.Request.Context(), hb)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch {
	case res.CameBack:
		s.log.Info("satellite back online", zap.String("satellite_id", sat.ID))
	case res.WentOffline:
		s.log.Info("satellite stopped cleanly: offline", zap.String("satellite_id", sat.ID))
	}
	if res.TagsChanged {
		s.log.Info("satellite tags changed", zap.String("satellite_id", sat.ID), zap.Any("tags", req.Tags))
	}
	writeJSON(c, http.StatusOK, api.HeartbeatResponse{NextHeartbeatSeconds: res.Satellite.HeartbeatSeconds,
		ServerTime: s.store.Now()})
}

// heartbeatJSON is a stored heartbeat as users see it.
type heartbeatJSON struct {
	ID         string          `json:"id"`
	ReceivedAt time.Time       `json:"received_at"`
	Report     json.RawMessage `json:"report"`
}

const maxHeartbeatLimit = 1000

// listHeartbeats lists a satellite's heartbeats, newest first (?from=&to= RFC 3339, ?limit=).
func (s *Server) listHeartbeats(c *gin.Context) {
	q := store.HeartbeatQuery{SatelliteID: satelliteOf(c).ID}
	var err error
	if q.Limit, err = queryLimit(c, 100, maxHeartbeatLimit); err != nil {
		s.fail(c, err)
		return
	}
	if q.From, err = queryTime(c, "from"); err != nil {
		s.fail(c, err)
		return
	}
	if q.To, err = queryTime(c, "to"); err != nil {
		s.fail(c, err)
		return
	}
	hbs, err := s.store.Heartbeats(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]heartbeatJSON, len(hbs))
	for i, h := range hbs {
		out[i] = heartbeatJSON{ID: h.ID, ReceivedAt: h.ReceivedAt, Report: json.RawMessage(h.Report)}
	}
	// The station's status as users see it (paused while a pause is in force) heads the list,
	// so a paused station's heartbeats do not read as a station at work.
	sat := satelliteOf(c)
	now := s.store.Now()
	writeJSON(c, http.StatusOK, gin.H{"heartbeats": out, "status": satelliteStatus(sat, now), "paused": pauseOf(sat, now)})
}

// queryTime reads an optional RFC 3339 time query parameter.
func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid(name, "%s must be an RFC 3339 time, e.g. 2026-06-26T12:00:00Z", name)
	}
	return t, nil
}
