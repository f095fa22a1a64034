package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// liveMessage is one Server-Sent Events message of the live feed.
type liveMessage struct {
	ID, Event string
	Data      json.RawMessage
}

// liveStation is the part of a station message the tests read.
type liveStation struct {
	ID        string `json:"id"`
	TeamID    string `json:"team_id"`
	Status    string `json:"status"`
	Heartbeat *struct {
		Report api.Heartbeat `json:"report"`
	} `json:"heartbeat"`
}

// liveResponse is an opened live feed: its status, headers and messages.
type liveResponse struct {
	StatusCode int
	Header     http.Header
}

// openLive opens a team's live feed as c and returns its messages, read by a goroutine until
// the stream ends (servertest closes the body when the test ends).
func openLive(t *testing.T, c *servertest.Client, teamID string) (liveResponse, <-chan liveMessage) {
	t.Helper()
	resp := c.Open(t, "/api/teams/"+teamID+"/live") //nolint:bodyclose // closed by servertest at the test's end
	out := make(chan liveMessage, 100)
	lr := liveResponse{StatusCode: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		close(out)
		return lr, out
	}
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var m liveMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.Event != "" {
					out <- m
				}
				m = liveMessage{}
			case strings.HasPrefix(line, "id: "):
				m.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.Data = json.RawMessage(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return lr, out
}

// next returns the next message of the given type, skipping the others, and fails when none
// comes within a minute (a wake-up delivers one within about a second).
func next(t *testing.T, msgs <-chan liveMessage, event string, skipped func(liveMessage)) liveMessage {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case m, ok := <-msgs:
			require.True(t, ok, "the stream ended before a %q message", event)
			if m.Event == event {
				return m
			}
			if skipped != nil {
				skipped(m)
			}
		case <-timeout:
			t.Fatalf("no %q message within a minute", event)
		}
	}
}

// TestLiveFeed: the team's live feed starts with a snapshot of its stations, then carries a
// heartbeat's station change, an event batch and a queued command, woken by the changes (the
// resync interval is an hour, so nothing else could deliver them). Viewers may watch; an
// outsider gets 404 for the team, and the outsider's own team's feed carries nothing of it.
func TestLiveFeed(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := openStore(t, storetest.NewURL(t, d), nil)
			p := newProtocol(t, st, func(o *server.Options) { o.LiveResync = time.Hour })
			s := p.newStation(t, "roof")

			viewerU := p.CreateUser(t, "viewer@example.org", false)
			p.AddMember(t, p.team, viewerU, store.RoleViewer)
			resp, msgs := openLive(t, p.Login(t, viewerU), p.team.ID)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

			// The outsider: their own team with a station of its own.
			outU := p.CreateUser(t, "outsider@example.org", false)
			outTeam := p.CreateTeam(t, "Other Lab", outU)
			outsider := p.Login(t, outU)
			refused, _ := openLive(t, outsider, p.team.ID)
			assert.Equal(t, http.StatusNotFound, refused.StatusCode, "another team's feed is not found")
			outResp, outMsgs := openLive(t, outsider, outTeam.ID)
			require.Equal(t, http.StatusOK, outResp.StatusCode)

			snap := next(t, msgs, "snapshot", nil)
			var snapshot struct{ Stations []liveStation }
			require.NoError(t, json.Unmarshal(snap.Data, &snapshot))
			require.Len(t, snapshot.Stations, 1)
			assert.Equal(t, s.SatelliteID, snapshot.Stations[0].ID)
			assert.Nil(t, snapshot.Stations[0].Heartbeat, "no heartbeat yet")
			outSnap := next(t, outMsgs, "snapshot", nil)
			assert.NotContains(t, string(outSnap.Data), s.SatelliteID)

			require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)
			var got liveStation
			require.NoError(t, json.Unmarshal(next(t, msgs, "station", nil).Data, &got))
			assert.Equal(t, s.SatelliteID, got.ID)
			assert.Equal(t, "online", got.Status)
			require.NotNil(t, got.Heartbeat)
			assert.Equal(t, 25544, got.Heartbeat.Report.Tracking.NoradID)

			evID := uuid.NewString()
			batch := map[string]any{"events": []map[string]any{{"id": evID, "type": "rotator.fault",
				"severity": "error", "time": time.Now().UTC(), "message": "stalled"}}}
			require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/events"), batch).Status)
			ev := next(t, msgs, "event", nil)
			assert.Contains(t, string(ev.Data), evID)
			assert.Contains(t, string(ev.Data), `"satellite_id":"`+s.SatelliteID+`"`)

			cmdID := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": "immediate"})
			cmd := next(t, msgs, "command", nil)
			assert.Contains(t, string(cmd.Data), cmdID)
			assert.Contains(t, string(cmd.Data), `"status":"pending"`)

			// The outsider's feed: a heartbeat of its own station arrives, and nothing of the
			// first team came before it.
			outStation := p.stationIn(t, outU, outTeam, "hill")
			require.Equal(t, http.StatusOK, outStation.c.Do(t, http.MethodPost, outStation.path("/heartbeat"), sampleHeartbeat()).Status)
			next(t, outMsgs, "station", func(m liveMessage) {
				assert.NotContains(t, string(m.Data), s.SatelliteID, "a message of another team: %s", m.Data)
			})
			// And nothing of the outsider's team leaked into the first feed's next message.
			require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)
			require.NoError(t, json.Unmarshal(next(t, msgs, "station", func(m liveMessage) {
				assert.NotContains(t, string(m.Data), outStation.SatelliteID)
			}).Data, &got))
			assert.Equal(t, s.SatelliteID, got.ID)
		})
	}
}

// TestLiveFeedEndsWithTheSession: a logout ends the open stream at its next check.
func TestLiveFeedEndsWithTheSession(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := openStore(t, storetest.NewURL(t, d), nil)
			p := newProtocol(t, st, func(o *server.Options) { o.LiveResync = 50 * time.Millisecond })
			c := p.Login(t, p.ownerUser)
			resp, msgs := openLive(t, c, p.team.ID)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			next(t, msgs, "snapshot", nil)
			require.Equal(t, http.StatusNoContent, c.Do(t, http.MethodPost, "/api/auth/logout", nil).Status)
			end := next(t, msgs, "end", nil)
			assert.Contains(t, string(end.Data), "unauthorized")
			_, ok := <-msgs
			assert.False(t, ok, "the stream is closed after its end message")
		})
	}
}

// stationIn registers a satellite into team, with a token its owner makes.
func (p *protocol) stationIn(t *testing.T, owner *servertest.User, team *store.Team, name string) *station {
	t.Helper()
	r := p.Login(t, owner).Do(t, http.MethodPost, "/api/teams/"+team.ID+"/registration-tokens", map[string]any{})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var tok createdRegToken
	r.JSON(t, &tok)
	r = p.register(t, tok.Token, registerBody(name))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	s := &station{c: p.Anonymous(t)}
	r.JSON(t, &s.RegisterResponse)
	s.c.Bearer = s.APIKey
	return s
}

// TestLiveFeedAcrossReplicas runs two backends on one PostgreSQL database: a live stream held
// by A carries a heartbeat that B received, woken through LISTEN/NOTIFY (the resync interval is
// an hour, so nothing else could deliver it).
func TestLiveFeedAcrossReplicas(t *testing.T) {
	t.Parallel()
	stA, stB, nA, nB := twoReplicas(t)
	hourly := func(o *server.Options) { o.LiveResync = time.Hour }
	a := newProtocol(t, stA, hourly, func(o *server.Options) { o.Satellites.Notifier = nA })
	b := servertest.New(t, stB, hourly, func(o *server.Options) { o.Satellites.Notifier = nB })
	s := a.newStation(t, "roof")
	resp, msgs := openLive(t, a.Login(t, a.ownerUser), a.team.ID)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	next(t, msgs, "snapshot", nil)

	onB := b.Anonymous(t)
	onB.Bearer = s.APIKey
	require.Equal(t, http.StatusOK, onB.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)
	var got liveStation
	require.NoError(t, json.Unmarshal(next(t, msgs, "station", nil).Data, &got))
	assert.Equal(t, s.SatelliteID, got.ID)
	require.NotNil(t, got.Heartbeat)
}
