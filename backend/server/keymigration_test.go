package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestArgon2idKeysMigrateOnUse (decision 0092): a satellite key and a personal token hashed
// with argon2id, as before the keyed hash, keep working; their first successful check stores a
// keyed hash in place of the argon2id one, so later checks run no argon2id. A wrong secret
// migrates nothing.
func TestArgon2idKeysMigrateOnUse(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		keys := p.Server.KeyHasher()
		roof := p.newStation(t, "roof")
		withArgon2idHash(t, st, roof.APIKey)

		wrong := p.Anonymous(t)
		wrong.Bearer = wrongSecret(roof.APIKey, 0)
		assert.Equal(t, http.StatusUnauthorized, wrong.Do(t, http.MethodGet, roof.path("/commands"), nil).Status)
		sat, err := st.SatelliteByID(t.Context(), roof.SatelliteID)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(sat.APIKeyHash, "$argon2id$"), "a wrong secret migrates nothing")

		roof.poll(t, "")
		sat, err = st.SatelliteByID(t.Context(), roof.SatelliteID)
		require.NoError(t, err)
		require.True(t, auth.IsKeyHash(sat.APIKeyHash), "migrated: %s", sat.APIKeyHash)
		require.NoError(t, keys.Verify(sat.APIKeyHash, mustParse(t, roof.APIKey).Secret))
		roof.poll(t, "")
		assert.Equal(t, "1", metric(t, p.Harness, "talos_auth_verifications_total", auth.KindSatelliteKey, "ok"),
			"argon2id ran once, for the migration")
		assert.Equal(t, "1", keyChecks(t, p.Harness, auth.KindSatelliteKey, "keyed", "ok"))

		owner := p.TokenClient(t, p.ownerUser)
		withArgon2idHash(t, st, owner.Bearer)
		for range 2 {
			assert.Equal(t, http.StatusOK, owner.Do(t, http.MethodGet, "/api/me", nil).Status)
		}
		tok, err := st.APITokenByID(t.Context(), mustParse(t, owner.Bearer).ID)
		require.NoError(t, err)
		require.True(t, auth.IsKeyHash(tok.SecretHash), "migrated: %s", tok.SecretHash)
		assert.Equal(t, "1", metric(t, p.Harness, "talos_auth_verifications_total", auth.KindPersonalToken, "ok"))
		assert.Equal(t, "1", keyChecks(t, p.Harness, auth.KindPersonalToken, "keyed", "ok"))
	})
}

// TestRevokedKeysStayRefused: with no verified-key cache left, revocation works from the row as
// before: a revoked token (keyed or argon2id), a satellite's key after rotation, and a deleted
// satellite's key are all 401 at once; a revoked argon2id token is not migrated.
func TestRevokedKeysStayRefused(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		keyed := p.TokenClient(t, p.ownerUser)
		old := p.TokenClient(t, p.ownerUser)
		withArgon2idHash(t, st, old.Bearer)
		for _, c := range []*servertest.Client{keyed, old} {
			require.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, "/api/me", nil).Status)
		}
		withArgon2idHash(t, st, old.Bearer) // again, after its migration by the request above
		for _, c := range []*servertest.Client{keyed, old} {
			id := mustParse(t, c.Bearer).ID
			require.Equal(t, http.StatusNoContent, p.owner.Do(t, http.MethodDelete, "/api/me/tokens/"+id, nil).Status)
			assert.Equal(t, http.StatusUnauthorized, c.Do(t, http.MethodGet, "/api/me", nil).Status)
		}
		tok, err := st.APITokenByID(t.Context(), mustParse(t, old.Bearer).ID)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(tok.SecretHash, "$argon2id$"), "a revoked token is not migrated")

		roof := p.newStation(t, "roof")
		roof.poll(t, "")
		body := registerBody("roof")
		body.SatelliteID = roof.SatelliteID
		r := p.register(t, roof.APIKey, body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var rotated api.RegisterResponse
		r.JSON(t, &rotated)
		assert.Equal(t, http.StatusUnauthorized, roof.c.Do(t, http.MethodGet, roof.path("/commands"), nil).Status,
			"the key before rotation")
		roof.c.Bearer = rotated.APIKey
		roof.poll(t, "")

		require.Equal(t, http.StatusNoContent, p.owner.Do(t, http.MethodDelete, p.teamPath(roof.SatelliteID, ""), nil).Status)
		assert.Equal(t, http.StatusUnauthorized, roof.c.Do(t, http.MethodGet, roof.path("/commands"), nil).Status,
			"a deleted satellite's key")
	})
}

// TestPepperRotation: a replica without the pepper a key was hashed with answers 503 with
// Retry-After (a configuration fault, not a wrong key: a 401 would stop the station); with the
// old pepper listed as previous it verifies the key and migrates it to its current pepper.
func TestPepperRotation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		oldPepper, newPepper := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
		withPeppers := func(current []byte, previous ...[]byte) func(*server.Options) {
			return func(o *server.Options) {
				h, err := auth.NewKeyHasher(current, previous...)
				require.NoError(t, err)
				o.KeyHasher = h
			}
		}
		before := newProtocol(t, st, withPeppers(oldPepper))
		roof := before.newStation(t, "roof")

		other := servertest.New(t, st, withPeppers(newPepper))
		c := other.Anonymous(t)
		c.Bearer = roof.APIKey
		r := c.Do(t, http.MethodGet, roof.path("/commands"), nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
		assert.Equal(t, "60", r.Header.Get("Retry-After"))

		rotated := servertest.New(t, st, withPeppers(newPepper, oldPepper))
		c = rotated.Anonymous(t)
		c.Bearer = roof.APIKey
		assert.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, roof.path("/commands"), nil).Status)
		sat, err := st.SatelliteByID(t.Context(), roof.SatelliteID)
		require.NoError(t, err)
		assert.Contains(t, sat.APIKeyHash, "$p="+auth.PepperID(newPepper)+"$", "migrated to the new pepper")
		c = other.Anonymous(t)
		c.Bearer = roof.APIKey
		assert.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, roof.path("/commands"), nil).Status,
			"now a replica with only the new pepper verifies it too")
	})
}

func mustParse(t *testing.T, key string) auth.Key {
	t.Helper()
	k, err := auth.ParseKey(key)
	require.NoError(t, err)
	return k
}
