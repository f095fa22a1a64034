package regtoken_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

var secret = []byte("regtoken-test-secret-0123456789abcdef")

func TestIssueAndParse(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	team, err := st.CreateTeam(t.Context(), "Cube Lab", "")
	require.NoError(t, err)
	toks := regtoken.New(secret, nil)

	raw, row, err := toks.Issue(t.Context(), st, regtoken.Request{TeamID: &team.ID, Uses: 3, Name: "roof"})
	require.NoError(t, err)
	assert.Equal(t, 3, row.UsesLeft)
	assert.WithinDuration(t, time.Now().Add(regtoken.DefaultTeamTTL), row.ExpiresAt, time.Minute)
	c, err := toks.Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, row.ID, c.ID)
	assert.Equal(t, regtoken.ScopeTeam, c.Scope)
	assert.Equal(t, team.ID, c.TeamID)

	raw, row, err = toks.Issue(t.Context(), st, regtoken.Request{})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(regtoken.DefaultGlobalTTL), row.ExpiresAt, time.Minute)
	c, err = toks.Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, regtoken.ScopeGlobal, c.Scope)

	_, err = regtoken.New([]byte("another-secret-0123456789abcdef-xx"), nil).Parse(raw)
	assert.ErrorIs(t, err, regtoken.ErrInvalid, "another server's key")

	later := regtoken.New(secret, func() time.Time { return time.Now().Add(2 * time.Hour) })
	_, err = later.Parse(raw)
	assert.ErrorIs(t, err, regtoken.ErrExpired)

	for _, bad := range []regtoken.Request{{TTL: -time.Second}, {TTL: regtoken.MaxTTL + 1}, {Uses: -1}, {Uses: regtoken.MaxUses + 1}} {
		_, _, err := toks.Issue(t.Context(), st, bad)
		var fe *regtoken.FieldError
		assert.ErrorAs(t, err, &fe, "%+v", bad)
	}
}

// TestParseRejectsForgeries: only HS256 under the derived key, with the right audience, issuer,
// expiry and claims, is accepted; an expired forgery is invalid, not "expired".
func TestParseRejectsForgeries(t *testing.T) {
	t.Parallel()
	toks := regtoken.New(secret, nil)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"aud": regtoken.Audience, "iss": regtoken.Issuer, "jti": store.NewID(), "scope": "global",
			"exp": time.Now().Add(time.Hour).Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	// The derived key is not exported; a token signed with the raw secret must fail too.
	cases := map[string]string{
		"alg none":       sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good()),
		"HS512":          sign(jwt.SigningMethodHS512, secret, good()),
		"raw secret":     sign(jwt.SigningMethodHS256, secret, good()),
		"empty":          "",
		"garbage":        "a.b.c",
		"too long":       string(make([]byte, 5000)),
		"expired forged": sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"aud": regtoken.Audience, "exp": 1}),
	}
	for name, raw := range cases {
		_, err := toks.Parse(raw)
		assert.ErrorIs(t, err, regtoken.ErrInvalid, name)
	}
}

// TestParseChecksClaims signs tokens with the real key and one claim wrong each.
func TestParseChecksClaims(t *testing.T) {
	t.Parallel()
	toks := regtoken.New(secret, nil)
	key := regtoken.SigningKey(toks)
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"aud": regtoken.Audience, "iss": regtoken.Issuer, "jti": store.NewID(), "scope": "global",
			"exp": time.Now().Add(time.Hour).Unix()}
	}
	ok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, base()).SignedString(key)
	require.NoError(t, err)
	_, err = toks.Parse(ok)
	require.NoError(t, err, "the baseline is valid")
	for name, edit := range map[string]func(jwt.MapClaims){
		"wrong audience":     func(c jwt.MapClaims) { c["aud"] = "csrf" },
		"wrong issuer":       func(c jwt.MapClaims) { c["iss"] = "someone" },
		"no expiry":          func(c jwt.MapClaims) { delete(c, "exp") },
		"bad jti":            func(c jwt.MapClaims) { c["jti"] = "1" },
		"unknown scope":      func(c jwt.MapClaims) { c["scope"] = "universe" },
		"team without team":  func(c jwt.MapClaims) { c["scope"] = "team" },
		"global with a team": func(c jwt.MapClaims) { c["team_id"] = store.NewID() },
		"team with a bad id": func(c jwt.MapClaims) { c["scope"], c["team_id"] = "team", "x" },
		"unknown claim type": func(c jwt.MapClaims) { c["scope"] = 7 },
	} {
		c := base()
		edit(c)
		raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		require.NoError(t, err)
		_, err = toks.Parse(raw)
		assert.ErrorIs(t, err, regtoken.ErrInvalid, name)
	}
	c := base()
	c["exp"] = time.Now().Add(-time.Minute).Unix()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	require.NoError(t, err)
	_, err = toks.Parse(raw)
	assert.ErrorIs(t, err, regtoken.ErrExpired, "genuine but expired")
}
