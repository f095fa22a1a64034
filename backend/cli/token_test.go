package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/regtoken"
)

func TestTokenCreate(t *testing.T) {
	t.Parallel()
	secret := "cli-token-test-secret-0123456789abcdef"
	env := map[string]string{"TALOS_DATA_DIR": t.TempDir(), "TALOS_SECRET_KEY": secret}
	r := runCLI(t, env, "", "team", "create", "--name", "Cube Lab")
	require.Equal(t, 0, r.code, r.err)
	teamID := strings.Fields(r.out)[0]
	toks := regtoken.New([]byte(secret), nil)

	r = runCLI(t, env, "", "token", "create", "--team", "cube-lab", "--ttl", "2h", "--uses", "3")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, 1, strings.Count(r.out, "\n"), "the token alone on stdout")
	c, err := toks.Parse(strings.TrimSpace(r.out))
	require.NoError(t, err)
	assert.Equal(t, regtoken.ScopeTeam, c.Scope)
	assert.Equal(t, teamID, c.TeamID)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), c.ExpiresAt.Time, time.Minute)

	r = runCLI(t, env, "", "token", "create")
	require.Equal(t, 0, r.code, r.err)
	c, err = toks.Parse(strings.TrimSpace(r.out))
	require.NoError(t, err)
	assert.Equal(t, regtoken.ScopeGlobal, c.Scope)
	assert.WithinDuration(t, time.Now().Add(time.Hour), c.ExpiresAt.Time, time.Minute, "1 h by default")

	for _, bad := range [][]string{
		{"token", "create", "--team", "nope"},
		{"token", "create", "--uses", "0"},
		{"token", "create", "--ttl", "-1h"},
		{"token", "create", "--ttl", "10000h"},
	} {
		r := runCLI(t, env, "", bad...)
		assert.Equal(t, 1, r.code, "%v", bad)
		assert.Empty(t, r.out, "%v", bad)
	}
}
