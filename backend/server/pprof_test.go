package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestPprofOnlyForAdmins: profiles do not exist unless switched on (404 even for an
// administrator); switched on, they are refused to anonymous callers (401), to users who are not
// global administrators and to an administrator's token without the admin scope (403), and
// served to an administrator's session and admin-scoped token.
func TestPprofOnlyForAdmins(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	off := servertest.New(t, st)
	offAdmin := off.CreateUser(t, "admin-off@example.org", true)
	assert.Equal(t, http.StatusNotFound, off.Login(t, offAdmin).Do(t, http.MethodGet, "/debug/pprof/", nil).Status)

	h := servertest.New(t, st, func(o *server.Options) { o.Pprof = true })
	admin := h.CreateUser(t, "admin@example.org", true)
	user := h.CreateUser(t, "user@example.org", false)
	refused := map[string]struct {
		c    *servertest.Client
		want int
	}{
		"anonymous":            {h.Anonymous(t), http.StatusUnauthorized},
		"user session":         {h.Login(t, user), http.StatusForbidden},
		"user admin token":     {h.TokenClient(t, user), http.StatusForbidden},
		"admin read token":     {h.ScopedTokenClient(t, admin, accounts.ScopeRead), http.StatusForbidden},
		"admin operate token":  {h.ScopedTokenClient(t, admin, accounts.ScopeOperate), http.StatusForbidden},
		"admin token, symbols": {h.ScopedTokenClient(t, admin, accounts.ScopeRead), http.StatusForbidden},
	}
	for name, tc := range refused {
		path := "/debug/pprof/goroutine?debug=1"
		if name == "admin token, symbols" {
			path = "/debug/pprof/symbol"
		}
		r := tc.c.Do(t, http.MethodGet, path, nil)
		assert.Equal(t, tc.want, r.Status, "%s: %s", name, r.Body)
		assert.NotContains(t, string(r.Body), "goroutine profile", name)
	}
	for name, c := range map[string]*servertest.Client{"session": h.Login(t, admin), "admin token": h.TokenClient(t, admin)} {
		r := c.Do(t, http.MethodGet, "/debug/pprof/goroutine?debug=1", nil)
		assert.Equal(t, http.StatusOK, r.Status, name)
		assert.Contains(t, string(r.Body), "goroutine profile", name)
		r = c.Do(t, http.MethodGet, "/debug/pprof/", nil)
		assert.Equal(t, http.StatusOK, r.Status, name)
		assert.Contains(t, string(r.Body), "heap", name)
		r = c.Do(t, http.MethodGet, "/debug/pprof/cmdline", nil)
		assert.Equal(t, http.StatusOK, r.Status, name)
	}
}
