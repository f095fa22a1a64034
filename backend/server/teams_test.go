package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

type teamBody struct {
	ID, Name, Slug, Role string
}

func TestTeamLifecycle(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		admin := h.Login(t, h.CreateUser(t, "admin@example.org", true))
		ownerU := h.CreateUser(t, "owner@example.org", false)
		memberU := h.CreateUser(t, "member@example.org", false)
		owner := h.Login(t, ownerU)
		member := h.Login(t, memberU)

		r := owner.Do(t, http.MethodPost, "/api/teams", map[string]string{"name": "Nope"})
		assert.Equal(t, http.StatusForbidden, r.Status, "only global admins create teams")

		r = admin.Do(t, http.MethodPost, "/api/teams", map[string]string{"name": "Cube Lab", "owner_email": "owner@example.org"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var team teamBody
		r.JSON(t, &team)
		assert.Equal(t, "cube-lab", team.Slug)
		base := "/api/teams/" + team.ID

		var list struct{ Teams []teamBody }
		owner.Do(t, http.MethodGet, "/api/teams", nil).JSON(t, &list)
		require.Len(t, list.Teams, 1)
		assert.Equal(t, "owner", list.Teams[0].Role)
		member.Do(t, http.MethodGet, "/api/teams", nil).JSON(t, &list)
		assert.Empty(t, list.Teams)

		r = owner.Do(t, http.MethodPost, base+"/members", map[string]string{"email": "member@example.org", "role": "member"})
		assert.Equal(t, http.StatusForbidden, r.Status, "team admins invite; only global admins add directly")
		r = admin.Do(t, http.MethodPost, base+"/members", map[string]string{"email": "member@example.org", "role": "member"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		r = admin.Do(t, http.MethodPost, base+"/members", map[string]string{"email": "member@example.org", "role": "member"})
		assert.Equal(t, http.StatusConflict, r.Status)
		r = admin.Do(t, http.MethodPost, base+"/members", map[string]string{"email": "member@example.org", "role": "boss"})
		assert.Equal(t, "role", r.Error(t).Field)

		// A member may read but not rename, manage members or read the audit log.
		assert.Equal(t, http.StatusOK, member.Do(t, http.MethodGet, base, nil).Status)
		assert.Equal(t, http.StatusOK, member.Do(t, http.MethodGet, base+"/members", nil).Status)
		assert.Equal(t, http.StatusForbidden, member.Do(t, http.MethodPatch, base, map[string]string{"name": "X"}).Status)
		assert.Equal(t, http.StatusForbidden, member.Do(t, http.MethodGet, base+"/audit", nil).Status)
		assert.Equal(t, http.StatusForbidden,
			member.Do(t, http.MethodDelete, base+"/members/"+ownerU.ID, nil).Status)

		// Promote to admin: an admin renames but cannot touch owners or delete the team.
		r = owner.Do(t, http.MethodPatch, base+"/members/"+memberU.ID, map[string]string{"role": "admin"})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		r = member.Do(t, http.MethodPatch, base, map[string]string{"name": "Cube Lab 2"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, http.StatusForbidden,
			member.Do(t, http.MethodPatch, base+"/members/"+ownerU.ID, map[string]string{"role": "viewer"}).Status)
		assert.Equal(t, http.StatusForbidden,
			member.Do(t, http.MethodPatch, base+"/members/"+memberU.ID, map[string]string{"role": "owner"}).Status)
		assert.Equal(t, http.StatusForbidden, member.Do(t, http.MethodDelete, base, nil).Status)

		// The last owner stays.
		r = owner.Do(t, http.MethodPatch, base+"/members/"+ownerU.ID, map[string]string{"role": "admin"})
		assert.Equal(t, http.StatusConflict, r.Status)
		assert.Equal(t, "last_owner", r.Error(t).Code)
		assert.Equal(t, http.StatusNotFound,
			owner.Do(t, http.MethodDelete, base+"/members/"+h.CreateUser(t, "x@example.org", false).ID, nil).Status)

		var audit struct {
			Entries []struct {
				Action string `json:"action"`
				TeamID string `json:"team_id"`
			}
		}
		r = owner.Do(t, http.MethodGet, base+"/audit", nil)
		require.Equal(t, http.StatusOK, r.Status)
		r.JSON(t, &audit)
		var actions []string
		for _, e := range audit.Entries {
			actions = append(actions, e.Action)
			assert.Equal(t, team.ID, e.TeamID)
		}
		assert.Equal(t, []string{"team.rename", "member.set_role", "member.add", "team.create"}, actions)

		require.Equal(t, http.StatusNoContent, owner.Do(t, http.MethodDelete, base, nil).Status)
		assert.Equal(t, http.StatusNotFound, owner.Do(t, http.MethodGet, base, nil).Status)
		r = admin.Do(t, http.MethodGet, "/api/audit?limit=1", nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Contains(t, string(r.Body), `"action":"team.delete"`)
		assert.Equal(t, http.StatusForbidden, owner.Do(t, http.MethodGet, "/api/audit", nil).Status)
		assert.Equal(t, "limit", admin.Do(t, http.MethodGet, "/api/audit?limit=0", nil).Error(t).Field)
	})
}

// TestEveryStateChangeIsAudited counts audit entries around successful unsafe calls.
func TestEveryStateChangeIsAudited(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "admin@example.org", true)
		h.CreateUser(t, "bob@example.org", false)
		c := h.Login(t, u) // the login itself is audited
		calls := []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/teams", map[string]string{"name": "T"}},
			{http.MethodPost, "/api/me/tokens", map[string]string{"name": "ci"}},
			{http.MethodPost, "/api/users", map[string]string{"email": "carol@example.org", "password": "long enough password"}},
		}
		for _, call := range calls {
			r := c.Do(t, call.method, call.path, call.body)
			require.Less(t, r.Status, 300, "%s %s: %s", call.method, call.path, r.Body)
		}
		require.Equal(t, http.StatusNoContent, c.Do(t, http.MethodPost, "/api/auth/logout", nil).Status)
		entries, err := st.ListAudit(t.Context(), store.AuditQuery{})
		require.NoError(t, err)
		require.Len(t, entries, len(calls)+2)
		for _, e := range entries {
			assert.Equal(t, u.ID, e.ActorID, e.Action)
			assert.NotEmpty(t, e.RequestID, e.Action)
			assert.NotEmpty(t, e.ClientAddr, e.Action)
		}
	})
}

func TestPersonalTokens(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "ada@example.org", false)
		c := h.Login(t, u)
		r := c.Do(t, http.MethodPost, "/api/me/tokens", map[string]string{"name": "ci", "ttl": "720h"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var created struct {
			ID, Token string
			ExpiresAt *time.Time `json:"expires_at"`
		}
		r.JSON(t, &created)
		require.True(t, strings.HasPrefix(created.Token, "tpat_"+created.ID+"_"))
		require.NotNil(t, created.ExpiresAt)

		tok := h.Anonymous(t)
		tok.Bearer = created.Token
		assert.Equal(t, http.StatusOK, tok.Do(t, http.MethodGet, "/api/me", nil).Status)
		assert.Equal(t, http.StatusOK, tok.Do(t, http.MethodGet, "/api/me", nil).Status, "cached verification")
		wrong := h.Anonymous(t)
		wrong.Bearer = created.Token[:len(created.Token)-2] + "xx"
		assert.Equal(t, http.StatusUnauthorized, wrong.Do(t, http.MethodGet, "/api/me", nil).Status)

		list := c.Do(t, http.MethodGet, "/api/me/tokens", nil)
		assert.Contains(t, string(list.Body), created.ID)
		assert.NotContains(t, string(list.Body), created.Token, "the secret is shown once")

		other := h.Login(t, h.CreateUser(t, "eve@example.org", false))
		assert.Equal(t, http.StatusNotFound, other.Do(t, http.MethodDelete, "/api/me/tokens/"+created.ID, nil).Status)
		assert.Equal(t, http.StatusNoContent, c.Do(t, http.MethodDelete, "/api/me/tokens/"+created.ID, nil).Status)
		assert.Equal(t, http.StatusUnauthorized, tok.Do(t, http.MethodGet, "/api/me", nil).Status, "revoked at once")

		for _, ttl := range []string{"-1h", "soon", "0s", "50000h"} {
			r := c.Do(t, http.MethodPost, "/api/me/tokens", map[string]string{"name": "x", "ttl": ttl})
			assert.Equal(t, "ttl", r.Error(t).Field, ttl)
		}
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "ada@example.org", false)
		c := h.Login(t, u)
		elsewhere := h.Login(t, u)

		r := c.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": "wrong", "new_password": "a brand new password"})
		assert.Equal(t, "current_password", r.Error(t).Field)
		r = c.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": u.Password, "new_password": "short"})
		assert.Equal(t, "new_password", r.Error(t).Field)
		r = c.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": u.Password, "new_password": "a brand new password"})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))

		assert.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, "/api/me", nil).Status, "this session stays")
		assert.Equal(t, http.StatusUnauthorized, elsewhere.Do(t, http.MethodGet, "/api/me", nil).Status, "other sessions end")
		u.Password = "a brand new password"
		h.Login(t, u)
	})
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	h := servertest.New(t, storetest.Open(t, store.SQLite), func(o *server.Options) {
		o.LoginLimiter = ratelimit.New(time.Hour, 2, 100, nil)
	})
	c := h.Anonymous(t)
	body := map[string]string{"email": "x@example.org", "password": "whatever"}
	for range 2 {
		assert.Equal(t, http.StatusUnauthorized, c.Do(t, http.MethodPost, "/api/auth/login", body).Status)
	}
	r := c.Do(t, http.MethodPost, "/api/auth/login", body)
	assert.Equal(t, http.StatusTooManyRequests, r.Status)
	assert.Equal(t, "rate_limited", r.Error(t).Code)
	assert.Equal(t, "3600", r.Header.Get("Retry-After"))
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := servertest.New(t, storetest.Open(t, store.SQLite))
	c := h.Anonymous(t)
	c.Do(t, http.MethodGet, "/api/health", nil)
	c.Do(t, http.MethodGet, "/api/teams/x", nil)
	r := c.Do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.Status)
	body := string(r.Body)
	assert.Contains(t, body, `talos_http_requests_total{method="GET",route="/api/health",status="200"} 1`)
	assert.Contains(t, body, `talos_http_requests_total{method="GET",route="/api/teams/:teamID",status="401"} 1`)
	assert.Contains(t, body, `talos_http_request_duration_seconds_bucket{method="GET",route="/api/health"`)
	assert.Contains(t, body, `go_sql_open_connections{db_name="sqlite"}`)
	assert.Contains(t, body, `go_sql_wait_count_total{db_name="sqlite"}`)
}
