package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
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
