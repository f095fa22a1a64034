package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// BenchmarkTokenRequest measures GET /api/me with a personal token, in-process (no network): the
// token's keyed hash (decision 0092) is checked on every request, so this is the steady-state
// cost of an authenticated API call on SQLite.
func BenchmarkTokenRequest(b *testing.B) {
	st := storetest.Open(b, store.SQLite)
	h := servertest.New(b, st, func(o *server.Options) { o.Hasher = auth.Hasher{Params: auth.DefaultParams} })
	u := h.CreateUser(b, "bench@example.org", false)
	key, _, err := accounts.IssueToken(context.Background(), st, h.Server.KeyHasher(),
		accounts.NewToken{UserID: u.ID, Name: "bench", Scopes: accounts.Scopes{accounts.ScopeRead}})
	if err != nil {
		b.Fatal(err)
	}
	handler := h.Server.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+key.String())
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkHashPassword is the cost of one argon2id hash (or verification) with the production
// parameters: what a login costs the server.
func BenchmarkHashPassword(b *testing.B) {
	h := auth.Hasher{Params: auth.DefaultParams}
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
