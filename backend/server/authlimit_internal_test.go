package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestVerificationBusyIs503: with every argon2id slot taken and no queue, a login, a personal
// token still hashed with argon2id (from before decision 0092), or a password change is answered
// 503 with Retry-After at once, instead of waiting (and holding memory) without bound; a token
// with a keyed hash needs no slot and is answered. The slot is held through the server's own guard.
func TestVerificationBusyIs503(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	s, err := New(Options{Store: st, Logger: zaptest.NewLogger(t), SecretKey: bytes.Repeat([]byte("k"), 32),
		Hasher: auth.Hasher{Params: auth.TestParams}, Verify: auth.VerifyLimits{Concurrent: 1, Queue: -1}})
	require.NoError(t, err)
	u, err := accounts.CreateUser(t.Context(), st, s.hasher, accounts.NewUser{Email: "busy@example.org", Password: "a long enough password"})
	require.NoError(t, err)
	key, tok, err := accounts.IssueToken(t.Context(), st, s.keyHash,
		accounts.NewToken{UserID: u.ID, Name: "busy", Scopes: accounts.Scopes{accounts.ScopeRead}})
	require.NoError(t, err)
	argon, err := s.hasher.Hash(key.Secret)
	require.NoError(t, err)
	replaced, err := st.ReplaceAPITokenHash(t.Context(), tok.ID, tok.SecretHash, argon)
	require.NoError(t, err)
	require.True(t, replaced)

	// A second token, with a keyed hash, reaches the password change while the slot is held: its
	// check of current_password needs a slot too.
	admin, _, err := accounts.IssueToken(t.Context(), st, s.keyHash,
		accounts.NewToken{UserID: u.ID, Name: "admin", Scopes: accounts.Scopes{accounts.ScopeAdmin}})
	require.NoError(t, err)

	release := holdSlot(t, s)
	requests := map[string]*http.Request{
		"login": httptest.NewRequest(http.MethodPost, "/api/auth/login",
			strings.NewReader(`{"email":"busy@example.org","password":"a long enough password"}`)),
		"token": httptest.NewRequest(http.MethodGet, "/api/me", nil),
		"password change": httptest.NewRequest(http.MethodPost, "/api/me/password",
			strings.NewReader(`{"current_password":"a long enough password","new_password":"another long password"}`)),
	}
	requests["password change"].Header.Set("Content-Type", "application/json")
	requests["password change"].Header.Set("Authorization", "Bearer "+admin.String())
	requests["login"].Header.Set("Content-Type", "application/json")
	requests["token"].Header.Set("Authorization", "Bearer "+key.String())
	keyed := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	keyed.Header.Set("Authorization", "Bearer "+admin.String())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, keyed)
	assert.Equal(t, http.StatusOK, rec.Code, "a keyed hash needs no slot: %s", rec.Body)
	for name, req := range requests {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s: %s", name, rec.Body)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), name)
		assert.Contains(t, rec.Body.String(), `"code":"unavailable"`, name)
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `talos_auth_verifications_refused_total{kind="password",reason="busy"} 2`)
	assert.Contains(t, rec.Body.String(), `talos_auth_verifications_refused_total{kind="personal_token",reason="busy"} 1`)

	release()
	req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+key.String())
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code, "a free slot verifies again: %s", rec.Body)
}

// holdSlot takes the server's one argon2id slot until the returned release is called.
func holdSlot(t *testing.T, s *Server) (release func()) {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		assert.NoError(t, s.guard.Run(t.Context(), auth.KindPassword, func() error { close(held); <-hold; return nil }))
	}()
	<-held
	return func() { close(hold); done.Wait() }
}

// TestRegistrationsNeedNoVerificationSlot (issue 19: 64 registrations at once took the backend to
// 2.36 GB): a new key gets a keyed hash, not argon2id, so with every argon2id slot taken and no
// queue, 64 registrations started together all succeed — none waits for a slot or allocates
// argon2id's 19 MiB.
func TestRegistrationsNeedNoVerificationSlot(t *testing.T) {
	t.Parallel()
	const n = 64
	st := storetest.Open(t, store.SQLite)
	s, err := New(Options{Store: st, Logger: zaptest.NewLogger(t), SecretKey: bytes.Repeat([]byte("k"), 32),
		Hasher: auth.Hasher{Params: auth.TestParams}, Verify: auth.VerifyLimits{Concurrent: 1, Queue: -1},
		Satellites: SatelliteOptions{RegisterLimiter: ratelimit.New(time.Millisecond, n, n, nil)}})
	require.NoError(t, err)
	token, _, err := s.sat.tokens.Issue(t.Context(), st, regtoken.Request{Uses: n})
	require.NoError(t, err)

	release := holdSlot(t, s)
	start := make(chan struct{})
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodPost, "/api/satellites/register",
				strings.NewReader(`{"name":"station `+strconv.Itoa(i)+`","location":{"lat":48.1,"lon":11.6,"alt_m":520},"version":"0.1.0"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			<-start
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			codes <- rec.Code
		}()
	}
	close(start)
	wg.Wait()
	release()
	close(codes)
	for code := range codes {
		assert.Equal(t, http.StatusCreated, code)
	}
	sats, err := st.Satellites(t.Context(), nil)
	require.NoError(t, err)
	assert.Len(t, sats, n)
}
