package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
)

// cast is who uses the backend in a test: a global administrator (who hands out the
// registration token) and the operator of a team (its owner, who watches the station and
// sends it commands).
type cast struct {
	admin    *servertest.Client
	operator *servertest.Client
	opUser   *servertest.User
	team     *store.Team
}

// seed creates the cast on b through the store (users, team) and logs them in through the API.
func seed(t testing.TB, b *backend) *cast {
	t.Helper()
	admin := b.CreateUser(t, "admin@example.org", true)
	op := b.CreateUser(t, "operator@example.org", false)
	team := b.CreateTeam(t, "Roof Lab", op)
	return &cast{admin: b.Login(t, admin), operator: b.Login(t, op), opUser: op, team: team}
}

// registrationToken creates a single-use registration token of the team through the user API,
// as the global administrator.
func (c *cast) registrationToken(t testing.TB) string {
	t.Helper()
	r := c.admin.Do(t, http.MethodPost, "/api/teams/"+c.team.ID+"/registration-tokens",
		map[string]any{"name": "e2e station", "ttl": "1h", "uses": 1})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var out struct {
		Token string `json:"token"`
	}
	r.JSON(t, &out)
	require.NotEmpty(t, out.Token)
	return out.Token
}

// teamPath is the team-scoped path of a satellite's user routes.
func (c *cast) teamPath(satelliteID, rest string) string {
	return "/api/teams/" + c.team.ID + "/satellites/" + satelliteID + rest
}

// satelliteView is a satellite as the user API lists it.
type satelliteView struct {
	ID       string       `json:"id"`
	TeamID   string       `json:"team_id"`
	Name     string       `json:"name"`
	Location api.Location `json:"location"`
	Version  string       `json:"version"`
	Status   string       `json:"status"`
	KeyID    string       `json:"key_id"`
	// HeartbeatSeconds is the interval the backend expects heartbeats at.
	HeartbeatSeconds int        `json:"heartbeat_seconds"`
	LastSeenAt       *time.Time `json:"last_seen_at"`
	RegisteredAt     time.Time  `json:"registered_at"`
}

// satellites lists the team's satellites through GET /api/teams/{id}/satellites.
func (c *cast) satellites(t testing.TB, client *servertest.Client) []satelliteView {
	t.Helper()
	r := client.Do(t, http.MethodGet, "/api/teams/"+c.team.ID+"/satellites", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out struct {
		Satellites []satelliteView `json:"satellites"`
	}
	r.JSON(t, &out)
	return out.Satellites
}

// heartbeatView is a stored heartbeat as the user API returns it.
type heartbeatView struct {
	ID         string        `json:"id"`
	ReceivedAt time.Time     `json:"received_at"`
	Report     api.Heartbeat `json:"report"`
}

func (c *cast) heartbeats(t testing.TB, satelliteID string) []heartbeatView {
	t.Helper()
	r := c.operator.Do(t, http.MethodGet, c.teamPath(satelliteID, "/heartbeats?limit=100"), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out struct {
		Heartbeats []heartbeatView `json:"heartbeats"`
	}
	r.JSON(t, &out)
	return out.Heartbeats
}

// commandView is a command as the user API shows it.
type commandView struct {
	ID            string            `json:"id"`
	Type          string            `json:"type"`
	Priority      api.Priority      `json:"priority"`
	CorrelationID string            `json:"correlation_id"`
	Status        api.CommandStatus `json:"status"`
	CreatedAt     time.Time         `json:"created_at"`
	DeliveredAt   *time.Time        `json:"delivered_at"`
	FinishedAt    *time.Time        `json:"finished_at"`
	Attempt       int               `json:"attempt"`
	Result        json.RawMessage   `json:"result"`
	Error         string            `json:"error"`
}

// createCommand queues a command through POST /api/teams/{id}/satellites/{sid}/commands.
func (c *cast) createCommand(t testing.TB, client *servertest.Client, satelliteID string, body map[string]any) commandView {
	t.Helper()
	r := client.Do(t, http.MethodPost, c.teamPath(satelliteID, "/commands"), body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var out commandView
	r.JSON(t, &out)
	return out
}

// history returns the satellite's command history, newest first.
func (c *cast) history(t testing.TB, client *servertest.Client, satelliteID string) []commandView {
	t.Helper()
	r := client.Do(t, http.MethodGet, c.teamPath(satelliteID, "/commands/history?limit=500"), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out struct {
		Commands []commandView `json:"commands"`
	}
	r.JSON(t, &out)
	return out.Commands
}

// commandIn returns the command id of the history (zero if absent).
func commandIn(hist []commandView, id string) commandView {
	for _, c := range hist {
		if c.ID == id {
			return c
		}
	}
	return commandView{}
}

// eventView is a stored event as the user API returns it.
type eventView struct {
	api.Event
	Seq        string    `json:"seq"`
	ReceivedAt time.Time `json:"received_at"`
}

// allEvents reads every event of one type through GET .../events, page by page (newest first,
// ?before= the last page's oldest seq).
func (c *cast) allEvents(t testing.TB, satelliteID, typ string) []eventView {
	t.Helper()
	const page = 1000
	var all []eventView
	before := ""
	for {
		q := url.Values{"type": {typ}, "limit": {strconv.Itoa(page)}}
		if before != "" {
			q.Set("before", before)
		}
		r := c.operator.Do(t, http.MethodGet, c.teamPath(satelliteID, "/events?"+q.Encode()), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var out struct {
			Events []eventView `json:"events"`
		}
		r.JSON(t, &out)
		all = append(all, out.Events...)
		if len(out.Events) < page {
			return all
		}
		before = out.Events[len(out.Events)-1].Seq
	}
}
