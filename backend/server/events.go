package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

var eventTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// eventBatchRequest is api.EventBatch; events are checked one by one in the handler, so one
// bad event rejects only itself.
type eventBatchRequest api.EventBatch

var errBatchTooLarge = &Error{http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge,
	"a batch holds at most 500 events", "events"}

// checksOwnText: checkEvent checks each event's text, so one bad event rejects only itself.
func (*eventBatchRequest) checksOwnText() {}

func (r *eventBatchRequest) validate() error {
	if len(r.Events) > api.MaxEventBatch {
		return errBatchTooLarge
	}
	return nil
}

// checkEvent returns why ev cannot be stored ("" and "" when it can). An event whose time lies
// ahead of the backend's clock is stored all the same: it happened, and the station's clock is
// what is wrong; events() counts it and says so in the log (received_at keeps the truth).
func checkEvent(ev *api.Event) (code, message string) {
	if !validUUID(ev.ID) {
		return api.RejectBadID, "id must be a UUID"
	}
	if field, reason := textProblem(ev); reason != "" {
		return api.RejectBadText, field + " " + reason
	}
	switch {
	case ev.Type == "":
		return api.RejectMissingType, "type is required"
	case len(ev.Type) > 100 || !eventTypeRe.MatchString(ev.Type):
		return api.RejectBadType, "type must be dotted lower-case words of at most 100 characters"
	case !knownSeverity(ev.Severity):
		return api.RejectBadSeverity, "severity must be debug, info, warning, error or critical"
	case ev.Time.IsZero():
		return api.RejectMissingTime, "time is required"
	case len(ev.Message) > api.MaxEventMessageBytes:
		return api.RejectMessageTooLong, "message exceeds 4096 bytes"
	case len(ev.Data) > api.MaxEventDataBytes:
		return api.RejectDataTooLarge, "data exceeds 16384 bytes"
	case len(ev.Data) > 0 && !jsonObjectOrNull(ev.Data):
		return api.RejectBadData, "data must be a JSON object"
	case ev.CommandID != "" && !validUUID(ev.CommandID), len(ev.CorrelationID) > maxCorrelationIDLen:
		return api.RejectBadReference, "command_id must be a UUID and correlation_id at most 200 characters"
	}
	return "", ""
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func knownSeverity(s api.Severity) bool {
	switch s {
	case api.SeverityDebug, api.SeverityInfo, api.SeverityWarning, api.SeverityError, api.SeverityCritical:
		return true
	}
	return false
}

func jsonObjectOrNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return bytes.Equal(raw, []byte("null")) || (len(raw) > 0 && raw[0] == '{')
}

// events stores a satellite's event batch: valid events once each, per-event reasons for the
// rest. Accepted + Duplicates + len(Rejected) is the batch size.
func (s *Server) events(c *gin.Context) {
	var req eventBatchRequest
	if !s.bind(c, &req) {
		return
	}
	now := s.store.Now()
	resp := api.EventBatchResponse{Rejected: []api.RejectedEvent{}}
	rows := make([]store.Event, 0, len(req.Events))
	valid := make([]api.Event, 0, len(req.Events))
	ahead := time.Duration(0)
	for i := range req.Events {
		ev := &req.Events[i]
		if code, msg := checkEvent(ev); code != "" {
			resp.Rejected = append(resp.Rejected, api.RejectedEvent{Index: i, ID: truncate(ev.ID, 64), Code: code, Message: msg})
			continue
		}
		if skew := ev.Time.Sub(now); skew > api.MaxEventClockSkewSeconds*time.Second {
			ahead = max(ahead, skew)
			s.sat.metrics.clockAhead.Inc()
		}
		rows = append(rows, toEventRow(ev))
		valid = append(valid, *ev)
	}
	if ahead > 0 {
		s.log.Warn("satellite clock ahead of the backend: events stored with the station's times",
			zap.String("satellite_id", authSatellite(c).ID), zap.Duration("ahead", ahead))
	}
	accepted, err := s.store.AddEvents(c.Request.Context(), authSatellite(c).ID, rows)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The batch is stored; the observations follow it before the station hears back, so a
	// failure here makes it send the batch again (duplicates move nothing twice).
	if err := s.obs.Ingest(c.Request.Context(), authSatellite(c).ID, valid); err != nil {
		s.fail(c, err)
		return
	}
	resp.Accepted, resp.Duplicates = accepted, len(rows)-accepted
	m := s.sat.metrics.events
	m.WithLabelValues("accepted").Add(float64(resp.Accepted))
	m.WithLabelValues("duplicate").Add(float64(resp.Duplicates))
	m.WithLabelValues("rejected").Add(float64(len(resp.Rejected)))
	writeJSON(c, http.StatusOK, resp)
}

func toEventRow(ev *api.Event) store.Event {
	row := store.Event{EventID: ev.ID, Type: ev.Type, Severity: string(ev.Severity), Time: ev.Time,
		Message: ev.Message, CommandID: ev.CommandID, CorrelationID: ev.CorrelationID}
	if d := bytes.TrimSpace(ev.Data); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		s := string(d)
		row.Data = &s
	}
	return row
}

// eventJSON is a stored event as users see it.
type eventJSON struct {
	api.Event
	// Seq is the backend's id of the stored event: pass it as ?before= to page.
	Seq        string    `json:"seq"`
	ReceivedAt time.Time `json:"received_at"`
}

const maxEventLimit = 1000

// listEvents lists a satellite's events, newest first (?type=, ?severity=, ?limit=,
// ?before=<seq>).
func (s *Server) listEvents(c *gin.Context) {
	q := store.EventQuery{SatelliteID: satelliteOf(c).ID, Type: c.Query("type"), Severity: c.Query("severity")}
	var err error
	if q.Limit, err = queryLimit(c, 100, maxEventLimit); err != nil {
		s.fail(c, err)
		return
	}
	if q.Severity != "" && !knownSeverity(api.Severity(q.Severity)) {
		s.fail(c, errInvalid("severity", "severity must be debug, info, warning, error or critical"))
		return
	}
	if q.Before, err = queryID(c, "before"); err != nil {
		s.fail(c, err)
		return
	}
	evs, err := s.store.Events(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]eventJSON, len(evs))
	for i := range evs {
		out[i] = toEventJSON(&evs[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"events": out})
}

// toEventJSON is a stored event as users see it.
func toEventJSON(e *store.Event) eventJSON {
	out := eventJSON{Seq: e.ID, ReceivedAt: e.ReceivedAt, Event: api.Event{ID: e.EventID, Type: e.Type,
		Severity: api.Severity(e.Severity), Time: e.Time, Message: e.Message, CommandID: e.CommandID,
		CorrelationID: e.CorrelationID}}
	if e.Data != nil {
		out.Data = json.RawMessage(*e.Data)
	}
	return out
}
