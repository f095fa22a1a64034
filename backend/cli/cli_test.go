package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the serve goroutine to write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code     int
	out, err string
}

// runCLI runs the command line in-process with the given stdin and TALOS_* environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut,
		func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// TestAdminCommands runs the admin commands in-process on each dialect, configured through the
// environment exactly as `serve` would be.
func TestAdminCommands(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testAdminCommands(t, d)
		})
	}
}

func testAdminCommands(t *testing.T, d store.Dialect) {
	dir := t.TempDir()
	dbURL := storetest.NewURL(t, d)
	env := map[string]string{"TALOS_DATA_DIR": dir, "TALOS_DATABASE_URL": dbURL}

	r := runCLI(t, env, "", "migrate")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `^schema version [1-9]\d* \(`+string(d)+`\)\n$`, r.out)

	r = runCLI(t, env, "a long enough password\n", "user", "create", "--email", "Ada@Example.org", "--password-stdin", "--admin")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `^[0-9a-f-]{36}\n$`, r.out)

	bad := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate email", "a long enough password\n", []string{"user", "create", "--email", "ada@example.org", "--password-stdin"}, "conflict"},
		{"no --password-stdin", "", []string{"user", "create", "--email", "b@example.org"}, "--password-stdin is required"},
		{"empty password", "\n", []string{"user", "create", "--email", "b@example.org", "--password-stdin"}, "empty"},
		{"short password", "short\n", []string{"user", "create", "--email", "b@example.org", "--password-stdin"}, "at least 12"},
		{"bad email", "a long enough password\n", []string{"user", "create", "--email", "nope", "--password-stdin"}, "email"},
		{"token for nobody", "", []string{"user", "token", "--email", "ghost@example.org"}, "not found"},
		{"missing team name", "", []string{"team", "create"}, "name"},
		{"unknown owner", "", []string{"team", "create", "--name", "X", "--owner", "ghost@example.org"}, "not found"},
		{"bad config", "", []string{"migrate", "--listen", "nonsense"}, "--listen"},
	}
	for _, tc := range bad {
		r := runCLI(t, env, tc.stdin, tc.args...)
		assert.Equal(t, 1, r.code, tc.name)
		assert.Contains(t, r.err, tc.want, tc.name)
		assert.Empty(t, r.out, tc.name)
	}

	r = runCLI(t, env, "", "team", "create", "--name", "Ground Crew", "--owner", "ada@example.org")
	require.Equal(t, 0, r.code, r.err)
	m := regexp.MustCompile(`^([0-9a-f-]{36}) (ground-crew)\n$`).FindStringSubmatch(r.out)
	require.NotNil(t, m, r.out)

	r = runCLI(t, env, "", "user", "token", "--email", "ada@example.org", "--ttl", "1h")
	require.Equal(t, 0, r.code, r.err)
	token := strings.TrimSuffix(r.out, "\n")
	assert.Regexp(t, `^tpat_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`, token, "the token alone on stdout")

	// The token works against a server on the same database and the same pepper (the one the
	// command generated into the data directory), and sees the team made above.
	keys, err := keyHasher(&config.Config{DataDir: dir})
	require.NoError(t, err)
	h := servertest.New(t, storetest.OpenURL(t, dbURL), func(o *server.Options) { o.KeyHasher = keys })
	c := h.Anonymous(t)
	c.Bearer = token
	resp := c.Do(t, http.MethodGet, "/api/teams/"+m[1], nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Contains(t, string(resp.Body), `"role":"owner"`)

	r = runCLI(t, env, "another long password\n", "user", "password", "--email", "ada@example.org", "--password-stdin")
	require.Equal(t, 0, r.code, r.err)
	r = runCLI(t, env, "", "version")
	assert.Equal(t, "dev\n", r.out)
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"TALOS_DATA_DIR": dir, "TALOS_LISTEN": "127.0.0.1:0", "TALOS_DEV": "1"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, nil, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	}()

	url, pwFile := waitForBanner(t, &errOut, done)
	require.Equal(t, filepath.Join(dir, "admin-password"), pwFile, "the first start names the password file")
	info, err := os.Stat(pwFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the password file is for its owner only")
	raw, err := os.ReadFile(pwFile)
	require.NoError(t, err)
	password := strings.TrimSuffix(string(raw), "\n")
	require.GreaterOrEqual(t, len(password), 12)
	resp, err := http.Get(url + "/api/health") //nolint:noctx // a test against a local server
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	body := fmt.Sprintf(`{"email":"admin@talos.local","password":%q}`, password)
	resp, err = http.Post(url+"/api/auth/login", "application/json", strings.NewReader(body)) //nolint:noctx // as above
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the password in the file logs in")
	assert.NotContains(t, errOut.String(), password, "the password never reaches stderr (journald, container logs)")

	info, err = os.Stat(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, errOut.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop after its context ended")
	}
}

// waitForBanner waits for serve's banner and returns the URL it names and, on a first start, the
// file it names for the generated administrator password.
func waitForBanner(t *testing.T, errOut *syncBuffer, done chan int) (url, pwFile string) {
	t.Helper()
	urlRE := regexp.MustCompile(`Talos is running at (https?://\S+)`)
	pwRE := regexp.MustCompile(`password: in (\S+) `)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		s := errOut.String()
		if m := urlRE.FindStringSubmatch(s); m != nil {
			if p := pwRE.FindStringSubmatch(s); p != nil {
				return m[1], p[1]
			}
			return m[1], ""
		}
	}
	t.Fatalf("no banner: %s", errOut.String())
	return "", ""
}

// TestServeOnATakenPortCreatesNoAdmin: a first start that cannot listen must fail before it
// creates the administrator, or the generated password is lost with the failed process.
func TestServeOnATakenPortCreatesNoAdmin(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	taken, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	dir := t.TempDir()
	r := runCLI(t, map[string]string{"TALOS_DATA_DIR": dir, "TALOS_LISTEN": taken.Addr().String()}, "", "serve")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "listen on "+taken.Addr().String())
	assert.Contains(t, r.err, "TALOS_LISTEN", "the error names the setting to change")
	assert.NoFileExists(t, filepath.Join(dir, "admin-password"))

	// The next start, on a free port, is still the first: it creates the administrator.
	env := map[string]string{"TALOS_DATA_DIR": dir, "TALOS_LISTEN": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, nil, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	}()
	_, pwFile := waitForBanner(t, &errOut, done)
	assert.NotEmpty(t, pwFile, "the administrator is created by the first start that serves")
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, errOut.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop after its context ended")
	}
}

func TestServeRefusesOpenSecretKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	require.NoError(t, os.WriteFile(key, []byte(strings.Repeat("k", 64)), 0o600))
	require.NoError(t, os.Chmod(key, 0o644))
	r := runCLI(t, map[string]string{"TALOS_DATA_DIR": dir, "TALOS_LISTEN": "127.0.0.1:0"}, "", "serve")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "chmod 600")
}
