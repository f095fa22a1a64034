package server_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func TestRegistrationTokenManagement(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		member := p.CreateUser(t, "member@example.org", false)
		p.AddMember(t, p.team, member, store.RoleMember)
		memberC := p.Login(t, member)
		base := "/api/teams/" + p.team.ID + "/registration-tokens"

		tok := p.teamToken(t, map[string]any{"name": "roof", "uses": 3})
		assert.Equal(t, "team", tok.Scope)
		assert.Equal(t, p.team.ID, tok.TeamID)
		assert.Equal(t, 3, tok.UsesLeft)
		assert.NotEmpty(t, tok.Token)

		r := p.admin.Do(t, http.MethodPost, "/api/registration-tokens", map[string]any{})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var global createdRegToken
		r.JSON(t, &global)
		assert.Equal(t, "global", global.Scope)
		assert.WithinDuration(t, time.Now().Add(time.Hour), global.ExpiresAt, time.Minute, "1 h by default")
		assert.WithinDuration(t, time.Now().Add(24*time.Hour), tok.ExpiresAt, time.Minute, "24 h by default for a team")

		// Members may not create or list tokens; outsiders and non-admins see nothing global.
		assert.Equal(t, http.StatusForbidden, memberC.Do(t, http.MethodPost, base, map[string]any{}).Status)
		assert.Equal(t, http.StatusForbidden, memberC.Do(t, http.MethodGet, base, nil).Status)
		assert.Equal(t, http.StatusForbidden, p.owner.Do(t, http.MethodGet, "/api/registration-tokens", nil).Status)

		list := p.owner.Do(t, http.MethodGet, base, nil)
		require.Equal(t, http.StatusOK, list.Status)
		assert.Contains(t, string(list.Body), tok.ID)
		assert.NotContains(t, string(list.Body), tok.Token, "a token is shown once")
		assert.NotContains(t, string(list.Body), global.ID, "the team list holds the team's tokens only")
		all := p.admin.Do(t, http.MethodGet, "/api/registration-tokens", nil)
		assert.Contains(t, string(all.Body), global.ID)
		assert.Contains(t, string(all.Body), tok.ID)

		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"ttl": "forever"}, "ttl"},
			{map[string]any{"ttl": "-1h"}, "ttl"},
			{map[string]any{"ttl": "1000h"}, "ttl"},
			{map[string]any{"uses": -1}, "uses"},
			{map[string]any{"uses": 100000}, "uses"},
			{map[string]any{"team_id": "x"}, "team_id"},
			{map[string]any{"name": "a\x00b"}, "name"},
			{map[string]any{"scope": "x"}, "scope"},
		} {
			r := p.owner.Do(t, http.MethodPost, base, bad.body)
			assert.Equal(t, bad.field, r.Error(t).Field, "%v", bad.body)
		}
		r = p.admin.Do(t, http.MethodPost, "/api/registration-tokens", map[string]any{"team_id": store.NewID()})
		assert.Equal(t, "team_id", r.Error(t).Field)

		// Revocation: a team admin revokes the team's token, not a global one; a revoked token
		// no longer registers.
		assert.Equal(t, http.StatusNotFound, p.owner.Do(t, http.MethodDelete, base+"/"+global.ID, nil).Status)
		assert.Equal(t, http.StatusNoContent, p.owner.Do(t, http.MethodDelete, base+"/"+tok.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, p.owner.Do(t, http.MethodDelete, base+"/"+tok.ID, nil).Status)
		r = p.register(t, tok.Token, registerBody("roof"))
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, api.ErrInvalidRegistrationToken, r.Error(t).Code)
		assert.Equal(t, http.StatusNoContent, p.admin.Do(t, http.MethodDelete, "/api/registration-tokens/"+global.ID, nil).Status)

		entries, err := st.ListAudit(t.Context(), store.AuditQuery{TeamID: p.team.ID})
		require.NoError(t, err)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		assert.Contains(t, actions, "registration_token.create")
		assert.Contains(t, actions, "registration_token.revoke")
	})
}

func TestRegistrationErrors(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		body := registerBody("roof")

		r := p.register(t, "", body)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, api.ErrRegistrationTokenRequired, r.Error(t).Code)

		// Forged tokens: garbage, alg none, another HMAC alg, the right alg with another key,
		// the wrong audience.
		claims := jwt.MapClaims{"aud": "satellite-registration", "iss": "talos-backend", "jti": store.NewID(),
			"scope": "global", "exp": clk.Now().Add(time.Hour).Unix()}
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, claims).SignedString([]byte("servertest-secret-key-0123456789abcdef"))
		require.NoError(t, err)
		otherKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("another-secret-key-0123456789abcdef"))
		require.NoError(t, err)
		for name, tok := range map[string]string{"garbage": "not.a.jwt", "alg none": none, "HS384": hs384,
			"other key": otherKey, "personal token shape": "tpat_x_y"} {
			r := p.register(t, tok, body)
			assert.Equal(t, http.StatusUnauthorized, r.Status, name)
			assert.Equal(t, api.ErrInvalidRegistrationToken, r.Error(t).Code, name)
		}

		// Expired.
		tok := p.teamToken(t, map[string]any{"ttl": "1h"})
		clk.Advance(time.Hour + time.Second)
		r = p.register(t, tok.Token, body)
		assert.Equal(t, api.ErrTokenExpired, r.Error(t).Code)

		// Used up.
		tok = p.teamToken(t, nil)
		require.Equal(t, http.StatusCreated, p.register(t, tok.Token, body).Status)
		r = p.register(t, tok.Token, body)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, api.ErrTokenAlreadyUsed, r.Error(t).Code)

		// Malformed bodies name the field and consume nothing.
		tok = p.teamToken(t, nil)
		for _, bad := range []struct {
			body  any
			field string
		}{
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"name": "x", "location": map[string]any{"lat": 91}}, "location.lat"},
			{map[string]any{"name": "x", "location": map[string]any{"lon": -181}}, "location.lon"},
			{map[string]any{"name": "x", "location": map[string]any{"alt_m": 1e6}}, "location.alt_m"},
			{map[string]any{"name": "x", "capabilities": []string{"Rotator!"}}, "capabilities[0]"},
			{map[string]any{"name": "x", "satellite_id": "nope"}, "satellite_id"},
			{map[string]any{"name": "x", "extra": 1}, "extra"},
			{map[string]any{"name": 5}, "name"},
		} {
			r := p.register(t, tok.Token, bad.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v", bad.body)
			assert.Equal(t, bad.field, r.Error(t).Field, "%v", bad.body)
		}
		assert.Equal(t, http.StatusCreated, p.register(t, tok.Token, body).Status, "bad bodies consumed no use")

		entries, err := st.ListAudit(t.Context(), store.AuditQuery{Limit: 1000})
		require.NoError(t, err)
		failed, ok := 0, 0
		for _, e := range entries {
			switch e.Action {
			case "satellite.register_failed":
				failed++
				assert.GreaterOrEqual(t, e.Status, 400)
				assert.NotEmpty(t, e.ClientAddr)
			case "satellite.register":
				ok++
				assert.Equal(t, "satellite", e.ActorType)
			}
		}
		assert.Equal(t, 2, ok)
		assert.Equal(t, 1+5+2+8, failed, "every refused registration is audited")
	})
}

// TestConcurrentSingleUseRegistration fires 20 registrations at one single-use token at once:
// exactly one may win. Each registration hashes its new key in a guard slot; the queue is made
// long enough here that every racer reaches the token (a burst beyond it would get 503).
func TestConcurrentSingleUseRegistration(t *testing.T) {
	t.Parallel()
	const n = 20
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st, func(o *server.Options) { o.Verify = auth.VerifyLimits{Queue: n, MaxWait: time.Minute} })
		tok := p.teamToken(t, nil)
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]*servertest.Response, n)
		)
		for i := range n {
			c := p.Anonymous(t)
			c.Bearer = tok.Token
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = c.Do(t, http.MethodPost, "/api/satellites/register", registerBody("racer"))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, r := range results {
			switch r.Status {
			case http.StatusCreated:
				won++
			case http.StatusUnauthorized:
				assert.Equal(t, api.ErrTokenAlreadyUsed, r.Error(t).Code)
			default:
				t.Errorf("unexpected answer %d %s", r.Status, r.Body)
			}
		}
		assert.Equal(t, 1, won, "exactly one registration consumes a single-use token")
		sats, err := st.Satellites(t.Context(), &p.team.ID)
		require.NoError(t, err)
		assert.Len(t, sats, 1)
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		assert.Regexp(t, `^tsk_[a-z2-7]{16}_`, s.APIKey)
		assert.Equal(t, p.team.ID, s.TeamID)
		assert.Equal(t, api.Intervals{PollSeconds: 60, HeartbeatSeconds: 30, EventsSeconds: 3, LongPollSeconds: 30}, s.Intervals)
		s.poll(t, "")
		s.poll(t, "") // now served from the verified-key cache

		// Re-register with the satellite's own key: a new key, the old one dead at once.
		body := registerBody("roof 2")
		body.SatelliteID = s.SatelliteID
		r := p.register(t, s.APIKey, body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var again api.RegisterResponse
		r.JSON(t, &again)
		assert.Equal(t, s.SatelliteID, again.SatelliteID)
		assert.NotEqual(t, s.APIKey, again.APIKey)
		assert.Equal(t, http.StatusUnauthorized, s.c.Do(t, http.MethodGet, s.path("/commands"), nil).Status, "old key")
		s.c.Bearer = again.APIKey
		s.poll(t, "")

		// Re-register with a new team token: rotates again.
		tok := p.teamToken(t, nil)
		r = p.register(t, tok.Token, body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Equal(t, http.StatusUnauthorized, s.c.Do(t, http.MethodGet, s.path("/commands"), nil).Status, "old key")

		// A key may only re-register its own satellite; a team token only its team's.
		other := p.newStation(t, "other")
		body.SatelliteID = other.SatelliteID
		r = p.register(t, again.APIKey, body)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the rotated key is dead")
		r = p.register(t, other.APIKey, registerBody("x"))
		assert.Equal(t, api.ErrTokenInvalidScope, r.Error(t).Code, "a key must name its satellite")

		otherOwner := p.CreateUser(t, "b@example.org", false)
		teamB := p.CreateTeam(t, "B", otherOwner)
		rb := p.Login(t, otherOwner).Do(t, http.MethodPost, "/api/teams/"+teamB.ID+"/registration-tokens", map[string]any{})
		require.Equal(t, http.StatusCreated, rb.Status)
		var tokB createdRegToken
		rb.JSON(t, &tokB)
		r = p.register(t, tokB.Token, body)
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, api.ErrTokenInvalidScope, r.Error(t).Code)
		r = p.register(t, tokB.Token, registerBody("b"))
		assert.Equal(t, http.StatusCreated, r.Status, "the failed attempt gave the use back")

		body.SatelliteID = store.NewID()
		tok = p.teamToken(t, nil)
		assert.Equal(t, http.StatusNotFound, p.register(t, tok.Token, body).Status)
	})
}

func TestRegistrationRateLimit(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	p := newProtocol(t, st, func(o *server.Options) {
		o.Satellites.RegisterLimiter = ratelimit.New(time.Hour, 2, 100, nil)
	})
	for range 2 {
		assert.Equal(t, http.StatusUnauthorized, p.register(t, "bad", registerBody("x")).Status)
	}
	r := p.register(t, "bad", registerBody("x"))
	assert.Equal(t, http.StatusTooManyRequests, r.Status)
	assert.Equal(t, api.ErrRateLimited, r.Error(t).Code)
	assert.Equal(t, "3600", r.Header.Get("Retry-After"))
}

// TestRotationAcrossReplicas: a key rotated through replica A stops working on replica B at
// once, although B had just verified (and cached) it.
func TestRotationAcrossReplicas(t *testing.T) {
	t.Parallel()
	u := storetest.NewURL(t, store.Postgres)
	a := newProtocol(t, openStore(t, u, nil))
	b := servertest.New(t, openStore(t, u, nil))
	s := a.newStation(t, "roof")
	onB := b.Anonymous(t)
	onB.Bearer = s.APIKey
	require.Equal(t, http.StatusOK, onB.Do(t, http.MethodGet, s.path("/commands"), nil).Status)
	require.Equal(t, http.StatusOK, onB.Do(t, http.MethodGet, s.path("/commands"), nil).Status, "cached on B")

	body := registerBody("roof")
	body.SatelliteID = s.SatelliteID
	r := a.register(t, s.APIKey, body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	assert.Equal(t, http.StatusUnauthorized, onB.Do(t, http.MethodGet, s.path("/commands"), nil).Status,
		"the old key is dead on the other replica too")
	var again api.RegisterResponse
	r.JSON(t, &again)
	onB.Bearer = again.APIKey
	assert.Equal(t, http.StatusOK, onB.Do(t, http.MethodGet, s.path("/commands"), nil).Status)
}
