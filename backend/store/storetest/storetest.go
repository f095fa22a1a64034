// Package storetest gives tests a fresh, migrated database on every dialect Talos supports:
// SQLite in t.TempDir() always, and PostgreSQL when TALOS_TEST_DATABASE_URL is set. Each
// PostgreSQL test gets its own schema (dropped at cleanup), so packages testing concurrently
// against the same database never see each other's rows.
//
// When TALOS_REQUIRE_INTEGRATION=1 and no PostgreSQL is configured, tests fail instead of
// skipping, so CI cannot silently test SQLite alone.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver used for schema set-up

	"github.com/talos-gs/talos/backend/store"
)

// Environment variables read by this package.
const (
	EnvDatabaseURL        = "TALOS_TEST_DATABASE_URL"
	EnvRequireIntegration = "TALOS_REQUIRE_INTEGRATION"
)

// Dialects returns the dialects tests should run on. PostgreSQL is included when configured;
// when it is not, the test fails under TALOS_REQUIRE_INTEGRATION=1 and otherwise logs why it is
// left out.
func Dialects(t testing.TB) []store.Dialect {
	t.Helper()
	if _, ok := postgresBaseURL(t); ok {
		return []store.Dialect{store.SQLite, store.Postgres}
	}
	return []store.Dialect{store.SQLite}
}

// ForEach runs fn once per dialect as a subtest named after it, each with a fresh migrated
// store. Subtests run in parallel with each other.
func ForEach(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			if d == store.Postgres {
				if _, ok := postgresBaseURL(t); !ok {
					t.Skip("PostgreSQL not configured: set " + EnvDatabaseURL)
				}
			}
			fn(t, Open(t, d))
		})
	}
}

// Open returns a migrated store on a fresh database of dialect d, closed at cleanup.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	return OpenURL(t, NewURL(t, d))
}

// OpenURL opens and migrates the database at u, closing it at cleanup.
func OpenURL(t testing.TB, u string) *store.Store {
	t.Helper()
	return OpenClocked(t, u, nil)
}

// NewURL returns the URL of a fresh, empty (unmigrated) database of dialect d: a file in
// t.TempDir() for SQLite, a new schema for PostgreSQL (dropped at cleanup).
func NewURL(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return filepath.Join(t.TempDir(), "talos.db")
	}
	base, ok := postgresBaseURL(t)
	if !ok {
		t.Skip("PostgreSQL not configured: set " + EnvDatabaseURL)
	}
	return newSchema(t, base)
}

// postgresBaseURL returns TALOS_TEST_DATABASE_URL, failing the test when it is required but
// unset.
func postgresBaseURL(t testing.TB) (string, bool) {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u == "" && os.Getenv(EnvRequireIntegration) == "1" {
		t.Fatalf("storetest: %s=1 but %s is not set: PostgreSQL tests cannot run",
			EnvRequireIntegration, EnvDatabaseURL)
	}
	return u, u != ""
}

// newSchema creates a uniquely named schema and returns base with search_path pointing at it.
func newSchema(t testing.TB, base string) string {
	t.Helper()
	name := "talos_test_" + randomHex(t, 8)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", redact(base), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		_ = db.Close()
		t.Fatalf("storetest: create schema on %s: %v", redact(base), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", name, err)
		}
		_ = db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// redact hides a password in a database URL before it reaches a test log.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	return p.Redacted()
}
