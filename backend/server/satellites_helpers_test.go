package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// testClock is an injectable clock, shared by the store and the server.
type testClock = storetest.Clock

func newTestClock() *testClock { return storetest.NewClock() }

// forEachClocked runs fn on every dialect with a fresh store whose clock is clk.
func forEachClocked(t *testing.T, fn func(t *testing.T, st *store.Store, clk *testClock)) {
	t.Helper()
	storetest.ForEachClocked(t, fn)
}

// openStore opens and migrates the database at u with the clock now (nil: real time).
func openStore(t testing.TB, u string, now func() time.Time) *store.Store {
	t.Helper()
	return storetest.OpenClocked(t, u, now)
}

// protocol is a harness with the satellite protocol's usual cast: a global admin, a team with
// an owner, and a client for each.
type protocol struct {
	*servertest.Harness
	admin, owner *servertest.Client
	ownerUser    *servertest.User
	team         *store.Team
}

// newProtocol starts the API on st. Registration is not rate limited unless options say so.
func newProtocol(t testing.TB, st *store.Store, options ...func(*server.Options)) *protocol {
	t.Helper()
	opts := append([]func(*server.Options){func(o *server.Options) {
		o.Satellites.RegisterLimiter = ratelimit.New(time.Millisecond, 1000, 1000, nil)
	}}, options...)
	h := servertest.New(t, st, opts...)
	ownerU := h.CreateUser(t, "owner@example.org", false)
	p := &protocol{Harness: h, admin: h.Login(t, h.CreateUser(t, "admin@example.org", true)),
		ownerUser: ownerU, owner: h.Login(t, ownerU)}
	p.team = h.CreateTeam(t, "Cube Lab", ownerU)
	return p
}

func withClock(clk *testClock) func(*server.Options) {
	return func(o *server.Options) { o.Now = clk.Now }
}

type createdRegToken struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Scope    string `json:"scope"`
	TeamID   string `json:"team_id"`
	UsesLeft int    `json:"uses_left"`
	// RatePerMinute is the token's own registration rate.
	RatePerMinute int       `json:"rate_per_minute"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// teamToken creates a registration token of p.team through the API, as its owner.
func (p *protocol) teamToken(t testing.TB, body map[string]any) createdRegToken {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := p.owner.Do(t, http.MethodPost, "/api/teams/"+p.team.ID+"/registration-tokens", body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var out createdRegToken
	r.JSON(t, &out)
	return out
}

func registerBody(name string) api.RegisterRequest {
	return api.RegisterRequest{Name: name, Location: api.Location{Lat: 48.1, Lon: 11.6, AltM: 520},
		Version: "0.1.0", Capabilities: []string{"rotator", "radio"}}
}

// register registers with bearer and returns the raw response.
func (p *protocol) register(t testing.TB, bearer string, body any) *servertest.Response {
	t.Helper()
	c := p.Anonymous(t)
	c.Bearer = bearer
	return c.Do(t, http.MethodPost, "/api/satellites/register", body)
}

// station is a registered satellite with a client holding its key.
type station struct {
	api.RegisterResponse
	c *servertest.Client
}

// newStation registers a satellite into p.team with a fresh team token.
func (p *protocol) newStation(t testing.TB, name string) *station {
	t.Helper()
	tok := p.teamToken(t, nil)
	r := p.register(t, tok.Token, registerBody(name))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	s := &station{c: p.Anonymous(t)}
	r.JSON(t, &s.RegisterResponse)
	s.c.Bearer = s.APIKey
	return s
}

func (s *station) path(rest string) string { return "/api/satellites/" + s.SatelliteID + rest }

// poll polls once (query may carry ?wait=N) and decodes the answer.
func (s *station) poll(t testing.TB, query string) (api.CommandsResponse, *servertest.Response) {
	t.Helper()
	r := s.c.Do(t, http.MethodGet, s.path("/commands"+query), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out api.CommandsResponse
	r.JSON(t, &out)
	return out, r
}

// queue creates a command as c and returns its id.
func (p *protocol) queue(t testing.TB, c *servertest.Client, satelliteID string, body map[string]any) string {
	t.Helper()
	r := c.Do(t, http.MethodPost, "/api/satellites/"+satelliteID+"/commands", body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var out struct{ ID string }
	r.JSON(t, &out)
	return out.ID
}

func (p *protocol) teamPath(satelliteID, rest string) string {
	return "/api/teams/" + p.team.ID + "/satellites/" + satelliteID + rest
}
