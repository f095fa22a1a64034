package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// behindProxy makes the harness's own address (httptest's 127.0.0.1) a trusted proxy, so a test
// can speak from any client address through X-Forwarded-For.
func behindProxy(o *server.Options) { o.TrustedProxies = []string{"127.0.0.1"} }

// loginFrom posts a login from client address addr.
func loginFrom(t *testing.T, h *servertest.Harness, addr, email, password string) *servertest.Response {
	t.Helper()
	return h.Anonymous(t).Do(t, http.MethodPost, "/api/auth/login",
		map[string]string{"email": email, "password": password}, "X-Forwarded-For", addr)
}

// TestPasswordChangeGuessesAreLimited (issue 11 item 2): wrong current_password guesses made
// with a valid token count like wrong logins: past the account's failure limit the guessing
// address gets 429 with Retry-After and no hashing; the guesses also use up the address's
// login allowance; every check and the new password's hash run in the guard.
func TestPasswordChangeGuessesAreLimited(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st, withFailureLimit)
		u := h.CreateUser(t, "viewer@example.org", false)
		tok := h.TokenClient(t, u)
		guess := func(current string) *servertest.Response {
			return tok.Do(t, http.MethodPost, "/api/me/password",
				map[string]string{"current_password": current, "new_password": "a brand new password"})
		}
		for i := range 3 {
			r := guess("wrong guess " + string(rune('a'+i)))
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			assert.Equal(t, "current_password", r.Error(t).Field)
		}
		r := guess("wrong guess d")
		require.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Body))
		assert.Equal(t, api.ErrRateLimited, r.Error(t).Code)
		assert.Equal(t, "3600", r.Header.Get("Retry-After"))
		assert.Equal(t, http.StatusTooManyRequests, guess(u.Password).Status, "this address is refused even with the right password")
		assert.Equal(t, http.StatusTooManyRequests, loginFrom(t, h, "", u.Email, u.Password).Status,
			"guesses through the password change count for logins from the same address")
		assert.Equal(t, "3", metric(t, h, "talos_auth_verifications_total", auth.KindPassword, "mismatch"))
		assert.Equal(t, "3", metric(t, h, "talos_auth_verifications_refused_total", auth.KindPassword, "limited"))
	})
}

// TestPasswordChangeUsesTheAddressLimit: the per-address limit of logins (burst 10) applies to
// password changes too, so one address cannot run argon2id checks without bound.
func TestPasswordChangeUsesTheAddressLimit(t *testing.T) {
	t.Parallel()
	h := servertest.New(t, storetest.Open(t, store.SQLite))
	tok := h.TokenClient(t, h.CreateUser(t, "viewer@example.org", false))
	statuses := map[int]int{}
	for range 12 {
		r := tok.Do(t, http.MethodPost, "/api/me/password",
			map[string]string{"current_password": "wrong guess", "new_password": "a brand new password"})
		statuses[r.Status]++
	}
	assert.Equal(t, map[int]int{http.StatusBadRequest: 10, http.StatusTooManyRequests: 2}, statuses)
}

// TestLockoutSparesTheOwner (issue 11 item 4): ten wrong passwords from ten addresses, and ten
// from one address, put the account over its failure limit with the default limits; the
// addresses that failed are refused even with the right password, but the right password from
// an address that has not failed still logs in, and that success does not lift the refusal of
// the guessing addresses. The first administrator's account is no exception.
func TestLockoutSparesTheOwner(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st, behindProxy)
		for _, tc := range []struct {
			email     string
			attackers []string
		}{
			{"ada@example.org", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5",
				"192.0.2.6", "192.0.2.7", "192.0.2.8", "192.0.2.9", "192.0.2.10"}},
			{"admin@talos.local", []string{"203.0.113.9"}},
		} {
			u := h.CreateUser(t, tc.email, true)
			for i := range 10 {
				addr := tc.attackers[i%len(tc.attackers)]
				r := loginFrom(t, h, addr, u.Email, "wrong guess "+string(rune('a'+i)))
				require.Equal(t, http.StatusUnauthorized, r.Status, "%s from %s: %s", u.Email, addr, r.Body)
			}
			r := loginFrom(t, h, tc.attackers[0], u.Email, u.Password)
			assert.Equal(t, http.StatusTooManyRequests, r.Status, "%s: a guessing address is refused: %s", u.Email, r.Body)
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
			r = loginFrom(t, h, "198.51.100.7", u.Email, u.Password)
			assert.Equal(t, http.StatusOK, r.Status, "%s: the owner from another address logs in: %s", u.Email, r.Body)
			r = loginFrom(t, h, "198.51.100.8", u.Email, "another wrong guess")
			assert.Equal(t, http.StatusUnauthorized, r.Status, "a new address gets its guess checked")
			r = loginFrom(t, h, "198.51.100.8", u.Email, u.Password)
			assert.Equal(t, http.StatusTooManyRequests, r.Status, "but only one while the account is over its limit")
			r = loginFrom(t, h, tc.attackers[len(tc.attackers)-1], u.Email, u.Password)
			assert.Equal(t, http.StatusTooManyRequests, r.Status, "%s: the owner's success did not reset the limit", u.Email)
		}
	})
}

// TestMustChangePasswordIsEnforced (issue 11 item 4): a user who must change their password
// may read /api/me, change the password and log out; everything else is 403
// password_change_required, for a browser session and a personal token alike.
func TestMustChangePasswordIsEnforced(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		admin := h.Login(t, h.CreateUser(t, "admin@example.org", true))
		r := admin.Do(t, http.MethodPost, "/api/users", map[string]string{"email": "new@example.org", "password": "handed over password"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		stored, err := st.UserByEmail(t.Context(), "new@example.org")
		require.NoError(t, err)
		u := &servertest.User{User: stored, Password: "handed over password"}
		clients := map[string]*servertest.Client{"session": h.Login(t, u), "token": h.TokenClient(t, u)}
		for kind, c := range clients {
			me := c.Do(t, http.MethodGet, "/api/me", nil)
			require.Equal(t, http.StatusOK, me.Status, kind)
			assert.Contains(t, string(me.Body), `"must_change_password":true`, kind)
			for _, call := range []struct{ method, path string }{
				{http.MethodGet, "/api/teams"},
				{http.MethodGet, "/api/me/tokens"},
				{http.MethodPost, "/api/me/tokens"},
				{http.MethodPost, "/api/teams"},
			} {
				r := c.Do(t, call.method, call.path, map[string]string{"name": "x"})
				assert.Equal(t, http.StatusForbidden, r.Status, "%s %s as %s: %s", call.method, call.path, kind, r.Body)
				assert.Equal(t, "password_change_required", r.Error(t).Code, "%s %s as %s", call.method, call.path, kind)
			}
		}
		sess := clients["session"]
		r = sess.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": u.Password, "new_password": "my own new password"})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		assert.Equal(t, http.StatusOK, sess.Do(t, http.MethodGet, "/api/teams", nil).Status, "changed: everything open again")
		assert.Equal(t, http.StatusNoContent, sess.Do(t, http.MethodPost, "/api/auth/logout", nil).Status)
	})
}

// TestTokenScopes walks every registered route (so routes added later are covered): a read
// token is refused every unsafe user route with 403 insufficient_scope, an operate token every
// one but the station-operating routes (commands: create and cancel; observations: book,
// cancel, override the verdict; an auto-scheduler run), an admin token none; no
// scope is ever refused a safe request.
func TestTokenScopes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "ada@example.org", false)
		tokens := map[accounts.Scope]*servertest.Client{}
		for _, sc := range []accounts.Scope{accounts.ScopeRead, accounts.ScopeOperate, accounts.ScopeAdmin} {
			tokens[sc] = h.ScopedTokenClient(t, u, sc)
		}
		operate := map[string]bool{
			"POST /api/satellites/:satelliteID/commands":                                 true,
			"POST /api/satellites/:satelliteID/commands/:commandID/cancel":               true,
			"POST /api/teams/:teamID/satellites/:satelliteID/commands":                   true,
			"POST /api/teams/:teamID/satellites/:satelliteID/commands/:commandID/cancel": true,
			"POST /api/teams/:teamID/autoschedule/run":                                   true,
			"POST /api/teams/:teamID/observations":                                       true,
			"POST /api/teams/:teamID/observations/:observationID/cancel":                 true,
			"POST /api/teams/:teamID/observations/:observationID/verdict":                true,
			"POST /api/teams/:teamID/commands":                                           true,
			"POST /api/teams/:teamID/commands/:fanoutID/cancel":                          true,
			"POST /api/satellites/:satelliteID/pause":                                    true,
			"POST /api/satellites/:satelliteID/resume":                                   true,
			"POST /api/teams/:teamID/satellites/:satelliteID/pause":                      true,
			"POST /api/teams/:teamID/satellites/:satelliteID/resume":                     true,
		}
		checked := 0
		for _, rt := range h.Server.Routes() {
			if !userRoute(rt.Method, rt.Path) {
				continue
			}
			checked++
			key := rt.Method + " " + rt.Path
			// Random ids: the scope is decided before any object is looked up, and nothing changes.
			path := fillParams(rt.Path, uuid.NewString(), uuid.NewString())
			for sc, c := range tokens {
				r := c.Do(t, rt.Method, path, "{}")
				refused := r.Status == http.StatusForbidden && r.Error(t).Code == "insufficient_scope"
				want := rt.Method != http.MethodGet && (sc == accounts.ScopeRead || sc == accounts.ScopeOperate && !operate[key])
				assert.Equal(t, want, refused, "%s with a %s token: %d %s", key, sc, r.Status, r.Body)
			}
		}
		require.GreaterOrEqual(t, checked, 20, "the user routes should be registered")
	})
}

// notUserRoutes are the routes under /api that do not act as a user: login, logout (open to
// every principal), health, and the satellite protocol.
var notUserRoutes = map[string]bool{
	"GET /api/health":                                              true,
	"POST /api/auth/login":                                         true,
	"POST /api/auth/logout":                                        true,
	"POST /api/satellites/register":                                true,
	"GET /api/satellites/:satelliteID/commands":                    true,
	"POST /api/satellites/:satelliteID/commands/:commandID/status": true,
	"POST /api/satellites/:satelliteID/heartbeat":                  true,
	"POST /api/satellites/:satelliteID/events":                     true,
	"GET /api/teams/:teamID/satellites/:satelliteID/commands":      true,
	"POST /api/satellites/:satelliteID/uploads":                    true,
	"HEAD /api/satellites/:satelliteID/uploads/:uploadID":          true,
	"PATCH /api/satellites/:satelliteID/uploads/:uploadID":         true,
	"DELETE /api/satellites/:satelliteID/uploads/:uploadID":        true,
}

// userRoute reports whether a route is one of the user API's (authenticated as a user).
func userRoute(method, path string) bool {
	return strings.HasPrefix(path, "/api/") && !notUserRoutes[method+" "+path]
}

// TestTokenMintingPassesOnNoMore (issue 11 item 7): a token cannot create a token outliving
// itself (no ttl: it gets the parent's expiry; a longer ttl is 400 naming ttl), tokens without
// the admin scope cannot mint at all, and tokens are listed with their scopes.
func TestTokenMintingPassesOnNoMore(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "ada@example.org", false)
		key, parent, err := accounts.IssueToken(t.Context(), st, h.Server.KeyHasher(), accounts.NewToken{
			UserID: u.ID, Name: "short", Scopes: accounts.Scopes{accounts.ScopeAdmin}, TTL: time.Hour})
		require.NoError(t, err)
		tok := h.Anonymous(t)
		tok.Bearer = key.String()

		r := tok.Do(t, http.MethodPost, "/api/me/tokens", map[string]any{"name": "longer", "ttl": "2h"})
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "ttl", r.Error(t).Field)
		r = tok.Do(t, http.MethodPost, "/api/me/tokens", map[string]any{"name": "child", "scopes": []string{"operate"}})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var child struct {
			Token     string
			Scopes    []string
			ExpiresAt time.Time `json:"expires_at"`
		}
		r.JSON(t, &child)
		assert.Equal(t, []string{"operate"}, child.Scopes)
		assert.True(t, child.ExpiresAt.Equal(*parent.ExpiresAt), "no ttl: the parent's expiry %s, got %s", parent.ExpiresAt, child.ExpiresAt)

		grandchild := h.Anonymous(t)
		grandchild.Bearer = child.Token
		r = grandchild.Do(t, http.MethodPost, "/api/me/tokens", map[string]any{"name": "g", "scopes": []string{"read"}})
		assert.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
		assert.Equal(t, "insufficient_scope", r.Error(t).Code)

		for _, bad := range []any{[]string{}, []string{"write"}, "admin"} {
			r = tok.Do(t, http.MethodPost, "/api/me/tokens", map[string]any{"name": "x", "scopes": bad})
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", bad, r.Body)
			assert.Equal(t, "scopes", r.Error(t).Field, bad)
		}
		r = h.Login(t, u).Do(t, http.MethodPost, "/api/me/tokens", map[string]any{"name": "default"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"scopes":["read"]`, "a session's token is read-only unless asked")
		assert.Contains(t, string(r.Body), `"expires_at"`, "and it expires")
	})
}

// TestPasswordChangeEndsSessionsAndTokens (issue 11 item 7): changing the password ends the
// user's other sessions and revokes every personal token, the one used included; the session
// it was made from stays.
func TestPasswordChangeEndsSessionsAndTokens(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		u := h.CreateUser(t, "ada@example.org", false)
		c, elsewhere := h.Login(t, u), h.Login(t, u)
		tok, other := h.TokenClient(t, u), h.ScopedTokenClient(t, u, accounts.ScopeRead)
		r := c.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": u.Password, "new_password": "a brand new password"})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		assert.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, "/api/me", nil).Status, "this session stays")
		for name, cl := range map[string]*servertest.Client{"other session": elsewhere, "token": tok, "read token": other} {
			assert.Equal(t, http.StatusUnauthorized, cl.Do(t, http.MethodGet, "/api/me", nil).Status, name)
		}

		u.Password = "a brand new password"
		tok = h.TokenClient(t, u)
		r = tok.Do(t, http.MethodPost, "/api/me/password", map[string]string{"current_password": u.Password, "new_password": "yet another password"})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		assert.Equal(t, http.StatusUnauthorized, tok.Do(t, http.MethodGet, "/api/me", nil).Status, "the token used is revoked too")
		assert.Equal(t, http.StatusUnauthorized, c.Do(t, http.MethodGet, "/api/me", nil).Status, "and every session")
	})
}

// TestSecureCookieBehindTrustedProxy (issue 11 item 8): behind a TLS-terminating proxy the
// session cookie is Secure when a trusted proxy says X-Forwarded-Proto: https; the header
// from anyone else is ignored.
func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	for _, tc := range []struct {
		name    string
		options []func(*server.Options)
		proto   string
		secure  bool
	}{
		{"trusted proxy, https", []func(*server.Options){behindProxy}, "https", true},
		{"trusted proxy, list", []func(*server.Options){behindProxy}, "HTTPS, http", true},
		{"trusted proxy, http", []func(*server.Options){behindProxy}, "http", false},
		{"trusted proxy, no header", []func(*server.Options){behindProxy}, "", false},
		{"untrusted client claims https", nil, "https", false},
	} {
		h := servertest.New(t, st, tc.options...)
		u := h.CreateUser(t, strings.ReplaceAll(tc.name, " ", "")+"@example.org", false)
		headers := []string{}
		if tc.proto != "" {
			headers = append(headers, "X-Forwarded-Proto", tc.proto)
		}
		r := h.Anonymous(t).Do(t, http.MethodPost, "/api/auth/login", map[string]string{"email": u.Email, "password": u.Password}, headers...)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, tc.secure, strings.Contains(r.Header.Get("Set-Cookie"), "; Secure"), "%s: %s", tc.name, r.Header.Get("Set-Cookie"))
	}
}
