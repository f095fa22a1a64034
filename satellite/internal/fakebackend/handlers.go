package fakebackend

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/talos-gs/talos/backend/api"
)

func (b *Backend) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/satellites/register", b.count("register", b.register))
	mux.HandleFunc("GET /api/satellites/{id}/commands", b.count("poll", b.auth(b.poll)))
	mux.HandleFunc("POST /api/satellites/{id}/commands/{cid}/status", b.count("status", b.auth(b.status)))
	mux.HandleFunc("POST /api/satellites/{id}/heartbeat", b.count("heartbeat", b.auth(b.heartbeat)))
	mux.HandleFunc("POST /api/satellites/{id}/events", b.count("events", b.auth(b.events)))
	mux.HandleFunc("GET /api/satellites/{id}/releases/{rid}", b.count("release", b.auth(b.release)))
	return mux
}

type satHandler func(w http.ResponseWriter, r *http.Request, s *satellite)

func (b *Backend) count(op string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.requests[op]++
		b.lastHeader = r.Header.Clone()
		down := b.down
		b.mu.Unlock()
		if down {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "backend is down (fake)")
			return
		}
		next(w, r)
	}
}

func (b *Backend) auth(next satHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		b.mu.Lock()
		id, ok := b.keys[key]
		s := b.sats[id]
		b.mu.Unlock()
		if !ok || id != r.PathValue("id") || s == nil {
			writeError(w, http.StatusUnauthorized, api.ErrUnauthorized, "invalid API key")
			return
		}
		next(w, r, s)
	}
}

// decode reads a request body the way the real backend does (api.DecodeStrict), so a runner
// sending a field the backend would refuse fails here too.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := api.DecodeStrict(io.LimitReader(r.Body, 16<<20), v); err != nil {
		writeError(w, http.StatusBadRequest, api.ErrInvalidRequest, err.Error())
		return false
	}
	return true
}

func (b *Backend) register(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var req api.RegisterRequest
	if token == "" {
		writeError(w, http.StatusUnauthorized, api.ErrRegistrationTokenRequired, "registration token required")
		return
	}
	if !decode(w, r, &req) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	state, ok := b.tokens[token]
	switch {
	case !ok:
		writeError(w, http.StatusUnauthorized, api.ErrInvalidRegistrationToken, "unknown token")
		return
	case state != "ok":
		writeError(w, http.StatusUnauthorized, state, "token refused: "+state)
		return
	}
	b.tokens[token] = api.ErrTokenAlreadyUsed
	writeJSON(w, http.StatusCreated, b.registerLocked(req))
}

func (b *Backend) registerLocked(req api.RegisterRequest) api.RegisterResponse {
	s := b.sats[req.SatelliteID]
	if s == nil {
		s = &satellite{id: uuid.NewString(), events: map[string]api.Event{}}
		b.sats[s.id] = s
	}
	s.reg = req
	for k, id := range b.keys { // rotation: the old key stops working at once
		if id == s.id {
			delete(b.keys, k)
		}
	}
	key := newKey()
	b.keys[key] = s.id
	return api.RegisterResponse{SatelliteID: s.id, APIKey: key, TeamID: b.team, Intervals: b.intervals}
}

func (b *Backend) poll(w http.ResponseWriter, r *http.Request, s *satellite) {
	if b.refusedVersion(r) {
		writeError(w, http.StatusInternalServerError, "internal", "this version is refused (fake)")
		return
	}
	wait, err := parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.ErrInvalidRequest, err.Error())
		return
	}
	b.mu.Lock()
	s.lastPollHdr = append(s.lastPollHdr, r.Header.Get(api.HeaderLastPoll))
	cut := b.cutAfter
	b.mu.Unlock()
	if cut > 0 && wait > cut {
		b.cutConnection(w, r, cut)
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		resp, wake := b.deliverLocked(s), b.wake
		b.mu.Unlock()
		if len(resp.Commands) > 0 || wait == 0 {
			w.Header().Set(api.HeaderPollInterval, itoa(resp.NextPollSeconds))
			writeJSON(w, http.StatusOK, resp)
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

// cutConnection waits d, then drops the TCP connection without an answer, as a proxy does.
func (b *Backend) cutConnection(w http.ResponseWriter, r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	writeError(w, http.StatusGatewayTimeout, "", "")
}

func parseWait(raw string) (time.Duration, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > api.MaxLongPollSeconds {
		return 0, &waitError{raw}
	}
	return time.Duration(n) * time.Second, nil
}

type waitError struct{ raw string }

func (e *waitError) Error() string { return "wait: must be 0 to 30 seconds, got " + e.raw }

func (b *Backend) deliverLocked(s *satellite) api.CommandsResponse {
	now := b.now()
	sortCommands(s.commands)
	resp := api.CommandsResponse{Commands: []api.Command{}, ServerTime: now.UTC()}
	for _, c := range s.commands {
		if c.status == api.CommandDelivered && now.After(c.leaseAt) {
			c.status = api.CommandPending // lease lapsed unacknowledged: deliver again
		}
		if c.status != api.CommandPending {
			continue
		}
		c.status, c.leaseAt = api.CommandDelivered, now.Add(b.lease)
		c.Attempt++
		lease := c.leaseAt
		c.LeaseExpiresAt = &lease
		resp.Commands = append(resp.Commands, c.Command)
	}
	resp.PollingMode, resp.NextPollSeconds = b.pollInterval(s, resp.Commands)
	return resp
}

func (b *Backend) status(w http.ResponseWriter, r *http.Request, s *satellite) {
	var upd api.CommandStatusUpdate
	if !decode(w, r, &upd) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := findCommand(s, r.PathValue("cid"))
	if c == nil {
		writeError(w, http.StatusNotFound, api.ErrNotFound, "no such command")
		return
	}
	if !applyTransition(c, upd) {
		writeError(w, http.StatusConflict, api.ErrConflict, "illegal transition "+string(c.status)+" → "+string(upd.Status))
		return
	}
	writeJSON(w, http.StatusOK, api.CommandStatusResponse{ID: c.ID, Status: c.status})
}

func findCommand(s *satellite, id string) *command {
	for _, c := range s.commands {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// applyTransition applies a report as the real backend does: a repeat is accepted, anything
// api.ReportAllowed refuses is a conflict.
func applyTransition(c *command, upd api.CommandStatusUpdate) bool {
	if upd.Status == c.status {
		return true
	}
	if !api.ReportAllowed(c.status, upd.Status) {
		return false
	}
	c.status = upd.Status
	c.updates = append(c.updates, upd)
	return true
}

func (b *Backend) heartbeat(w http.ResponseWriter, r *http.Request, s *satellite) {
	var hb api.Heartbeat
	if !decode(w, r, &hb) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.heartbeats = append(s.heartbeats, hb)
	s.maintenance = hb.Status == api.StatusMaintenance
	writeJSON(w, http.StatusOK, api.HeartbeatResponse{NextHeartbeatSeconds: b.intervals.HeartbeatSeconds, ServerTime: b.now().UTC()})
}

func (b *Backend) events(w http.ResponseWriter, r *http.Request, s *satellite) {
	var batch api.EventBatch
	if !decode(w, r, &batch) {
		return
	}
	if len(batch.Events) > api.MaxEventBatch {
		writeError(w, http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge, "too many events")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	resp := api.EventBatchResponse{Rejected: []api.RejectedEvent{}}
	for i, ev := range batch.Events {
		switch {
		case ev.ID == "" || ev.Type == "":
			resp.Rejected = append(resp.Rejected, api.RejectedEvent{Index: i, ID: ev.ID, Code: api.ErrInvalidRequest, Message: "id and type are required"})
		case s.events[ev.ID].ID != "":
			resp.Duplicates++
			s.duplicates++
		default:
			s.events[ev.ID] = ev
			s.eventOrder = append(s.eventOrder, ev.ID)
			resp.Accepted++
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
