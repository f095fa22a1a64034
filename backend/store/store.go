// Package store is talos-backend's database: it opens SQLite or PostgreSQL through gorm, applies
// the embedded SQL migrations with goose, and holds one file of models and queries per concept
// (users, teams, sessions, tokens, audit). Every query that touches team-owned data takes the
// team id as an argument, so team scope cannot be forgotten at the call site.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database engine behind a Store.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Sentinel errors of the store. Callers test them with errors.Is.
var (
	// ErrNotFound means no row matched (within the caller's scope).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule would be broken (e.g. an email already in use).
	ErrConflict = errors.New("conflict")
)

// Store is an open, migrated database.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect Dialect
	now     func() time.Time
	pool    *reconnectPool // PostgreSQL only
	inTx    bool           // this Store is the inside of Tx
}

// Options configure Open.
type Options struct {
	// URL is a postgres:// (or postgresql://) URL, or a SQLite file path (optionally "file:...").
	URL string
	// MaxOpenConns, MaxIdleConns and ConnMaxLifetime tune the connection pool; zero picks the
	// dialect's default (see docs/operations.md).
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// BusyTimeout is how long a SQLite writer waits for the lock before failing (default 5 s).
	BusyTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Open connects to the database named by o.URL and checks that it answers. It does not migrate:
// call Migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	dialect, dialector, pool, err := dialectorFor(o)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	maxIdle := applyPool(sqlDB, dialect, o)
	if pool != nil {
		pool.maxIdle = maxIdle
		if err := pool.registerRetry(db); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("open %s database: %w", dialect, err)
		}
	}
	s := &Store{db: db, sqlDB: sqlDB, dialect: dialect, now: o.Now, pool: pool}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close() // the ping error is the one worth reporting
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	return s, nil
}

// Dialect reports which engine this store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the gorm handle, for the store's sibling files and for tests.
func (s *Store) DB() *gorm.DB { return s.db }

// SQL returns the underlying connection pool (for pool metrics and health checks).
func (s *Store) SQL() *sql.DB { return s.sqlDB }

// Now returns the store's clock reading in UTC, truncated to microseconds so values survive a
// round trip through either database unchanged.
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Ping runs a trivial query, proving a connection can be obtained and used.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.sqlDB.Close() }

// Tx runs fn in a transaction, committed when fn returns nil. Under an Idempotent context a
// transaction that lost its PostgreSQL connection is run once more, from the start, on another
// connection (reconnect.go); fn must then be safe to call twice, as idempotent work is.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	err := s.tx(ctx, fn)
	if err != nil && s.pool != nil && !s.inTx && isIdempotent(ctx) && ctx.Err() == nil && s.pool.lost(err) && pause(ctx) {
		err = s.tx(ctx, fn)
	}
	return err
}

func (s *Store) tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		return fn(&Store{db: gtx, sqlDB: s.sqlDB, dialect: s.dialect, now: s.now, pool: s.pool, inTx: true})
	})
}

// NewID returns a new identifier: a UUIDv7 string, so ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; v4 fails the same way, so
		// there is nothing better to fall back to.
		panic(fmt.Sprintf("store: generate id: %v", err))
	}
	return id.String()
}

// ValidID reports whether s is a well-formed UUID string, so handlers can answer 404 for a
// malformed path id without asking the database.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// translate maps gorm's errors to the store's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}
