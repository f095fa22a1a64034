package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// The live feed of the web UI (docs/ui.md, decision 0099): GET /api/teams/{team}/live is a
// Server-Sent Events stream of what changes in the team: stations (status, last seen, latest
// heartbeat), events and commands. It is woken the way command long-polls are: through the
// command notifier (backend/notify; LISTEN/NOTIFY across PostgreSQL replicas), under the key
// liveKey(team). A wake-up carries no data; the stream looks in the store for what changed since
// its last look, so a lost or doubled wake-up costs one look, never a lost change.

const (
	// liveMinGap coalesces wake-ups: a stream looks at most once per liveMinGap, however many
	// heartbeats arrive (1,000 stations send about 33 a second).
	liveMinGap = time.Second
	// defaultLiveResync is how often a stream looks without being woken (Options.LiveResync):
	// for changes nothing wakes it for (the sweeper marking a station offline), and to check that
	// the session still holds.
	defaultLiveResync = 10 * time.Second
	// liveOverlap is how far back each look reaches before the previous one: rows are stamped
	// before their transaction commits, so one stamped just before a look may only become visible
	// after it. What was already sent is recognised and skipped.
	liveOverlap = 5 * time.Second
	// liveBatch bounds the events and commands one look sends.
	liveBatch = 500
	// liveWriteWindow is how long one write to the stream may take; the server's WriteTimeout
	// would otherwise end every stream after 90 s.
	liveWriteWindow = 30 * time.Second
	// liveRetryMillis is the reconnection delay the stream asks EventSource for.
	liveRetryMillis = 3000
)

// liveKey is the notifier key that wakes the live streams of a team.
func liveKey(teamID string) string { return "team:" + teamID }

// wakeTeam wakes the live streams of a team, on every replica. A failed notification is only
// logged: the streams look again within Options.LiveResync anyway.
func (s *Server) wakeTeam(ctx context.Context, teamID *string) {
	if teamID == nil || *teamID == "" {
		return
	}
	if err := s.opts.Satellites.Notifier.Notify(ctx, liveKey(*teamID)); err != nil {
		s.log.Warn("wake live streams", zap.String("team_id", *teamID), zap.Error(err))
	}
}

// wakeLive is the middleware of the routes that change a satellite or its commands, heartbeats
// and events: after a successful unsafe request it wakes the satellite's team's live streams.
func (s *Server) wakeLive(c *gin.Context) {
	c.Next()
	if !unsafeMethod(c.Request.Method) || c.Writer.Status() >= 400 {
		return
	}
	sat := satelliteOf(c)
	if sat == nil {
		sat = authSatellite(c)
	}
	if sat != nil {
		s.wakeTeam(context.WithoutCancel(c.Request.Context()), sat.TeamID)
	}
}

func (s *Server) liveRoutes() {
	s.teamAPI.GET("/live", s.live)
}

// stationJSON is a satellite with its latest heartbeat: one row of the UI's stations table.
type stationJSON struct {
	satelliteJSON
	Heartbeat *heartbeatJSON `json:"heartbeat,omitempty"`
}

// liveEventJSON is a stored event in the live feed: eventJSON and whose it is.
type liveEventJSON struct {
	eventJSON
	SatelliteID string `json:"satellite_id"`
}

// liveStream is one open live feed: what it has sent, so overlapping looks send nothing twice.
type liveStream struct {
	s      *Server
	c      *gin.Context
	rc     *http.ResponseController
	teamID string
	seq    int64
	// lastLook is the store time of the previous look's start.
	lastLook time.Time
	// stations: the UpdatedAt last sent per satellite; events and commands: what was sent in the
	// overlap window, by id (with the command's UpdatedAt), pruned as the window moves.
	stations map[string]time.Time
	events   map[string]time.Time
	commands map[string]time.Time
}

// live serves the team's live feed (see the top of this file). The first message is a
// "snapshot" of every station; after that "station", "event" and "command" messages carry what
// changed. A reconnecting client gets a new snapshot, which is its resync; events and commands
// missed while it was away are in the ordinary list routes. Comment lines keep idle
// connections open through proxies.
func (s *Server) live(c *gin.Context) {
	ls := &liveStream{s: s, c: c, rc: http.NewResponseController(c.Writer), teamID: teamOf(c).ID,
		stations: map[string]time.Time{}, events: map[string]time.Time{}, commands: map[string]time.Time{}}
	wake, unsubscribe := s.opts.Satellites.Notifier.Subscribe(liveKey(ls.teamID))
	defer unsubscribe()
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each message on at once
	c.Status(http.StatusOK)
	if err := ls.snapshot(); err != nil {
		s.liveEnded(c, err)
		return
	}
	s.liveLoop(ls, wake)
}

// liveLoop looks again on each wake-up (at most once per liveMinGap) and every Options.LiveResync,
// until the client leaves, the server drains, or the principal loses access.
func (s *Server) liveLoop(ls *liveStream, wake <-chan struct{}) {
	ctx := ls.c.Request.Context()
	resync := time.NewTicker(s.opts.LiveResync)
	defer resync.Stop()
	lastWall := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sat.draining:
			_ = ls.send("end", map[string]string{"reason": "server shutting down"})
			return
		case <-resync.C:
			if !s.stillAllowed(ls.c) {
				_ = ls.send("end", map[string]string{"reason": "unauthorized"})
				return
			}
		case <-wake:
		}
		if wait := liveMinGap - time.Since(lastWall); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		lastWall = time.Now()
		if err := ls.look(); err != nil {
			s.liveEnded(ls.c, err)
			return
		}
	}
}

// liveEnded logs why a stream stopped early; a client that went away is not worth a line.
func (s *Server) liveEnded(c *gin.Context, err error) {
	if c.Request.Context().Err() == nil {
		s.log.Info("live stream ended", zap.String("request_id", requestIDOf(c)), zap.Error(err))
	}
}

// stillAllowed re-checks, on an open stream, that its session still exists and its user still
// belongs to the team: a logout or a removal ends the stream within Options.LiveResync.
func (s *Server) stillAllowed(c *gin.Context) bool {
	p := principalOf(c)
	if p.Kind == ActorSession {
		if _, err := s.session(c, false); err != nil {
			return false
		}
	}
	if p.TokenExpiresAt != nil && !s.store.Now().Before(*p.TokenExpiresAt) {
		return false
	}
	_, err := s.roleIn(c, teamOf(c).ID)
	return err == nil
}

// snapshot sends every station of the team and starts the windows from now.
func (ls *liveStream) snapshot() error {
	ctx := ls.c.Request.Context()
	ls.lastLook = ls.s.store.Now()
	sats, err := ls.s.store.TeamSatellitesChangedSince(ctx, ls.teamID, time.Time{})
	if err != nil {
		return err
	}
	stations, err := ls.stationsOf(ctx, sats)
	if err != nil {
		return err
	}
	if err := ls.retry(); err != nil {
		return err
	}
	return ls.send("snapshot", gin.H{"stations": stations, "server_time": ls.lastLook})
}

// look sends what changed since the previous look (with liveOverlap).
func (ls *liveStream) look() error {
	ctx := ls.c.Request.Context()
	start := ls.s.store.Now()
	since := ls.lastLook.Add(-liveOverlap)
	if err := ls.lookStations(ctx, since); err != nil {
		return err
	}
	if err := ls.lookEvents(ctx, since); err != nil {
		return err
	}
	if err := ls.lookCommands(ctx, since); err != nil {
		return err
	}
	ls.lastLook = start
	prune(ls.events, since)
	prune(ls.commands, since)
	return nil
}

func (ls *liveStream) lookStations(ctx context.Context, since time.Time) error {
	sats, err := ls.s.store.TeamSatellitesChangedSince(ctx, ls.teamID, since)
	if err != nil {
		return err
	}
	changed := sats[:0]
	for _, sat := range sats {
		if sent, ok := ls.stations[sat.ID]; !ok || !sent.Equal(sat.UpdatedAt) {
			changed = append(changed, sat)
		}
	}
	stations, err := ls.stationsOf(ctx, changed)
	if err != nil {
		return err
	}
	for i := range stations {
		if err := ls.send("station", stations[i]); err != nil {
			return err
		}
	}
	return nil
}

func (ls *liveStream) lookEvents(ctx context.Context, since time.Time) error {
	evs, err := ls.s.store.TeamEventsSince(ctx, ls.teamID, since, liveBatch)
	if err != nil {
		return err
	}
	for i := range evs {
		e := &evs[i]
		if _, sent := ls.events[e.ID]; sent {
			continue
		}
		ls.events[e.ID] = e.ReceivedAt
		if err := ls.send("event", liveEventJSON{eventJSON: toEventJSON(e), SatelliteID: e.SatelliteID}); err != nil {
			return err
		}
	}
	return nil
}

func (ls *liveStream) lookCommands(ctx context.Context, since time.Time) error {
	cmds, err := ls.s.store.TeamCommandsChangedSince(ctx, ls.teamID, since, liveBatch)
	if err != nil {
		return err
	}
	for i := range cmds {
		cmd := &cmds[i]
		key := cmd.ID + "/" + string(cmd.Status)
		if _, sent := ls.commands[key]; sent {
			continue
		}
		ls.commands[key] = cmd.UpdatedAt
		if err := ls.send("command", toCommandJSON(cmd)); err != nil {
			return err
		}
	}
	return nil
}

// stationsOf joins satellites with their latest heartbeats and records them as sent.
func (ls *liveStream) stationsOf(ctx context.Context, sats []store.Satellite) ([]stationJSON, error) {
	ids := make([]string, len(sats))
	for i := range sats {
		ids[i] = sats[i].ID
	}
	hbs, err := ls.s.store.LatestHeartbeats(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]stationJSON, len(sats))
	for i := range sats {
		out[i] = stationJSON{satelliteJSON: ls.s.toSatelliteJSON(&sats[i])}
		if h, ok := hbs[sats[i].ID]; ok {
			out[i].Heartbeat = &heartbeatJSON{ID: h.ID, ReceivedAt: h.ReceivedAt, Report: json.RawMessage(h.Report)}
		}
		ls.stations[sats[i].ID] = sats[i].UpdatedAt
	}
	return out, nil
}

// prune forgets what was sent before the window's start: a later look does not reach back there.
func prune(sent map[string]time.Time, windowStart time.Time) {
	for id, t := range sent {
		if t.Before(windowStart) {
			delete(sent, id)
		}
	}
}

// retry tells EventSource how long to wait before reconnecting.
func (ls *liveStream) retry() error {
	return ls.write([]byte("retry: " + strconv.Itoa(liveRetryMillis) + "\n\n"))
}

// send writes one message: its id (counting from 1 on each stream), type and JSON data.
func (ls *liveStream) send(event string, v any) error {
	var buf bytes.Buffer
	ls.seq++
	fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: ", ls.seq, event)
	enc := json.NewEncoder(&buf) // one line: JSON escapes the newlines inside strings
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.WriteString("\n")
	return ls.write(buf.Bytes())
}

func (ls *liveStream) write(b []byte) error {
	// Not every ResponseWriter supports deadlines (httptest's recorder does not); the server's
	// own does, and then the stream outlives its WriteTimeout.
	_ = ls.rc.SetWriteDeadline(time.Now().Add(liveWriteWindow))
	if _, err := ls.c.Writer.Write(b); err != nil {
		return err
	}
	return ls.rc.Flush()
}
