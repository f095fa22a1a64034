package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestGlobalTokenCannotTakeOverTeamSatellite: a global registration token re-registers only a
// satellite of no team; naming a team's satellite is token_invalid_scope, and the station keeps
// its key and its commands.
func TestGlobalTokenCannotTakeOverTeamSatellite(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		global := func() string {
			r := p.admin.Do(t, http.MethodPost, "/api/registration-tokens", map[string]any{"uses": 5})
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			var tok createdRegToken
			r.JSON(t, &tok)
			return tok.Token
		}()

		body := registerBody("hijack")
		body.SatelliteID = s.SatelliteID
		r := p.register(t, global, body)
		assert.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
		assert.Equal(t, api.ErrTokenInvalidScope, r.Error(t).Code)
		s.poll(t, "") // the real station's key still works

		// The same token still adopts a satellite of no team (its own earlier registration).
		r = p.register(t, global, registerBody("orphan"))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var orphan api.RegisterResponse
		r.JSON(t, &orphan)
		body.SatelliteID = orphan.SatelliteID
		r = p.register(t, global, body)
		assert.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	})
}

// TestJSONBodiesNeedJSONContentType: a cross-site form (enctype=text/plain) can shape its body
// as JSON, so a JSON body counts only when declared as such; otherwise 415 with the error
// envelope, and in particular no session for a forged login.
func TestJSONBodiesNeedJSONContentType(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st)
		// The attacker's own account, with a password ending in "=": a browser sends
		// <form enctype="text/plain"> with one field named {"email":"…","password":"…stapl and
		// the value e"} as name=value, which is exactly this JSON.
		const password = "correct horse battery stapl=e"
		u, err := accounts.CreateUser(t.Context(), st, servertest.Hasher,
			accounts.NewUser{Email: "attacker@example.org", Password: password})
		require.NoError(t, err)
		forged := `{"email":"` + u.Email + `","password":"correct horse battery stapl` + "=" + `e"}`
		cases := []struct {
			name, contentType string
			want              int
		}{
			{"text/plain form", "text/plain", http.StatusUnsupportedMediaType},
			{"urlencoded form", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
			{"multipart form", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
			{"no content type", "", http.StatusUnsupportedMediaType},
			{"malformed content type", "application/json; =", http.StatusUnsupportedMediaType},
			{"json lookalike", "application/jsonx", http.StatusUnsupportedMediaType},
			{"json with charset", "application/json; charset=utf-8", http.StatusOK},
			{"json upper case", "Application/JSON", http.StatusOK},
		}
		for _, tc := range cases {
			r := h.Anonymous(t).Do(t, http.MethodPost, "/api/auth/login", forged, "Content-Type", tc.contentType)
			assert.Equal(t, tc.want, r.Status, "%s: %s", tc.name, r.Body)
			if tc.want == http.StatusUnsupportedMediaType {
				assert.Equal(t, "unsupported_media_type", r.Error(t).Code, tc.name)
				assert.Empty(t, r.Header.Values("Set-Cookie"), "%s: no session", tc.name)
			} else {
				assert.NotEmpty(t, r.Header.Values("Set-Cookie"), "%s: a JSON client logs in", tc.name)
			}
		}

		// A personal token's JSON bodies are checked the same way.
		tc := h.TokenClient(t, &servertest.User{User: u, Password: password})
		r := tc.Do(t, http.MethodPost, "/api/me/tokens", `{"name":"forms"}`, "Content-Type", "text/plain")
		assert.Equal(t, http.StatusUnsupportedMediaType, r.Status, string(r.Body))
		r = tc.Do(t, http.MethodPost, "/api/me/tokens", `{"name":"forms"}`)
		assert.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	})
}
