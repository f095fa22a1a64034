package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

// withFailureLimit allows 3 failed verifications per credential per hour.
func withFailureLimit(o *server.Options) {
	o.Verify = auth.VerifyLimits{MaxFailures: 3, Window: time.Hour}
	o.LoginLimiter = ratelimit.New(time.Millisecond, 1000, 1000, nil) // isolate the per-account limit
}

// wrongSecret keeps a key's id and replaces its secret.
func wrongSecret(key string, i int) string {
	parts := strings.SplitN(key, "_", 3) // the secret itself may hold '_'
	return parts[0] + "_" + parts[1] + "_" + strings.Repeat(string(rune('a'+i)), 43)
}

// keyChecks reads talos_auth_key_checks_total for one kind, stored hash and result ("absent"
// when it has no sample).
func keyChecks(t *testing.T, h *servertest.Harness, kind, hash, result string) string {
	t.Helper()
	r := h.Anonymous(t).Do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.Status)
	want := `talos_auth_key_checks_total{hash="` + hash + `",kind="` + kind + `",result="` + result + `"} `
	for _, line := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, want); ok {
			return v
		}
	}
	return "absent"
}

// withArgon2idHash stores the argon2id hash of key's secret in place of its keyed hash, as a key
// issued before decision 0092 has.
func withArgon2idHash(t *testing.T, st *store.Store, key string) {
	t.Helper()
	k, err := auth.ParseKey(key)
	require.NoError(t, err)
	old, err := servertest.Hasher.Hash(k.Secret)
	require.NoError(t, err)
	var replaced bool
	if k.Prefix == auth.PrefixPersonal {
		tok, err := st.APITokenByID(t.Context(), k.ID)
		require.NoError(t, err)
		replaced, err = st.ReplaceAPITokenHash(t.Context(), k.ID, tok.SecretHash, old)
		require.NoError(t, err)
	} else {
		sat, err := st.SatelliteByKeyID(t.Context(), k.ID)
		require.NoError(t, err)
		replaced, err = st.ReplaceSatelliteKeyHash(t.Context(), k.ID, sat.APIKeyHash, old)
		require.NoError(t, err)
	}
	require.True(t, replaced)
}

// metric reads one of the guard's counters from /metrics ("absent" when it has no sample).
func metric(t *testing.T, h *servertest.Harness, name, kind, label string) string {
	t.Helper()
	r := h.Anonymous(t).Do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.Status)
	other := "reason"
	if name == "talos_auth_verifications_total" {
		other = "result"
	}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, name+`{kind="`+kind+`",`+other+`="`+label+`"}`) {
			return line[strings.LastIndex(line, " ")+1:]
		}
	}
	return "absent"
}

// TestSatelliteKeyFloodCannotLockOutTheStation: a satellite key has a keyed hash (decision
// 0092), so wrong secrets sent with its id cost no argon2id and count no failures: every one is a
// plain 401, however many, and the station keeps working. A key still hashed with argon2id is
// checked under the guard as before: wrong secrets are hashed up to the limit, then refused with
// 429 and Retry-After without hashing, re-registration included.
func TestSatelliteKeyFloodCannotLockOutTheStation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st, withFailureLimit)
		roof := p.newStation(t, "roof")
		attacker := p.Anonymous(t)
		for i := range 10 {
			attacker.Bearer = wrongSecret(roof.APIKey, i)
			assert.Equal(t, http.StatusUnauthorized, attacker.Do(t, http.MethodGet, roof.path("/commands"), nil).Status)
		}
		roof.poll(t, "")
		assert.Equal(t, "absent", metric(t, p.Harness, "talos_auth_verifications_total", auth.KindSatelliteKey, "mismatch"),
			"no argon2id for a keyed hash")
		assert.Equal(t, "10", keyChecks(t, p.Harness, auth.KindSatelliteKey, "keyed", "mismatch"))

		shed := p.newStation(t, "shed")
		withArgon2idHash(t, st, shed.APIKey)
		for i := range 3 {
			attacker.Bearer = wrongSecret(shed.APIKey, i)
			assert.Equal(t, http.StatusUnauthorized, attacker.Do(t, http.MethodGet, shed.path("/commands"), nil).Status)
		}
		attacker.Bearer = wrongSecret(shed.APIKey, 3)
		r := attacker.Do(t, http.MethodGet, shed.path("/commands"), nil)
		assert.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Body))
		assert.Equal(t, api.ErrRateLimited, r.Error(t).Code)
		// The window (an hour) counts from the first failure, seconds ago on a loaded machine.
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		assert.InDelta(t, 3600, retry, 60)
		assert.Equal(t, "1", metric(t, p.Harness, "talos_auth_verifications_refused_total", auth.KindSatelliteKey, "limited"))
		// Re-registration with a flooded key id is refused the same way (429, not 401).
		body := registerBody("shed")
		body.SatelliteID = shed.SatelliteID
		r = attacker.Do(t, http.MethodPost, "/api/satellites/register", body)
		assert.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Body))
		assert.Equal(t, "3", metric(t, p.Harness, "talos_auth_verifications_total", auth.KindSatelliteKey, "mismatch"),
			"only the argon2id key's first three wrong secrets were hashed")
	})
}

// TestPersonalTokenFloodCannotLockOutItsOwner: the same for a personal token: wrong secrets are
// 401 without end and the owner's token keeps working.
func TestPersonalTokenFloodCannotLockOutItsOwner(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st, withFailureLimit)
		owner := h.TokenClient(t, h.CreateUser(t, "tok@example.org", false))
		attacker := h.Anonymous(t)
		for i := range 10 {
			attacker.Bearer = wrongSecret(owner.Bearer, i)
			assert.Equal(t, http.StatusUnauthorized, attacker.Do(t, http.MethodGet, "/api/me", nil).Status)
		}
		assert.Equal(t, http.StatusOK, owner.Do(t, http.MethodGet, "/api/me", nil).Status)
		assert.Equal(t, "absent", metric(t, h, "talos_auth_verifications_refused_total", auth.KindPersonalToken, "limited"))
	})
}

// TestLoginFailuresLimitedPerAccount: failed logins for one email are limited (the per-address
// limiter is out of the way here), for unknown emails alike, so the answer does not reveal which
// accounts exist; the address that failed is refused even the right password (addresses that
// did not fail are not: TestLockoutSparesTheOwner).
func TestLoginFailuresLimitedPerAccount(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st, withFailureLimit)
		u := h.CreateUser(t, "guessed@example.org", false)
		login := func(email, password string) *servertest.Response {
			return h.Anonymous(t).Do(t, http.MethodPost, "/api/auth/login", map[string]string{"email": email, "password": password})
		}
		for _, email := range []string{u.Email, "nobody@example.org"} {
			for i := range 3 {
				assert.Equal(t, http.StatusUnauthorized, login(email, "guess "+string(rune('a'+i))).Status, email)
			}
			r := login(strings.ToUpper(email), "guess d")
			assert.Equal(t, http.StatusTooManyRequests, r.Status, "%s: %s", email, r.Body)
			assert.Equal(t, "3600", r.Header.Get("Retry-After"))
		}
		assert.Equal(t, http.StatusTooManyRequests, login(u.Email, u.Password).Status,
			"while limited even the right password is refused without hashing")
		assert.Equal(t, "3", metric(t, h, "talos_auth_verifications_refused_total", auth.KindPassword, "limited"))
		other := h.CreateUser(t, "other@example.org", false)
		assert.Equal(t, http.StatusOK, login(other.Email, other.Password).Status, "other accounts are unaffected")
	})
}
