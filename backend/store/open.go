package store

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Pool defaults. SQLite allows one writer at a time; every write transaction
// takes the write lock up front (sqlite_driver.go) and waits up to the busy timeout for it, so a small pool of
// connections serves concurrent readers without SQLITE_BUSY failures (docs/decisions/0012).
const (
	sqliteMaxOpen       = 4
	postgresMaxOpen     = 20
	postgresMaxIdle     = 10
	defaultConnLifetime = 30 * time.Minute
	defaultBusyTimeout  = 5 * time.Second
)

// IsPostgresURL reports whether url names a PostgreSQL database rather than a SQLite file.
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// dialectorFor picks the engine o.URL names. On PostgreSQL it also returns the pool that
// survives lost connections (reconnect.go); SQLite has no connections to lose.
func dialectorFor(o Options) (Dialect, gorm.Dialector, *reconnectPool, error) {
	if o.URL == "" {
		return "", nil, nil, fmt.Errorf("open database: no database URL given")
	}
	if IsPostgresURL(o.URL) {
		pool, err := openPostgres(o.URL)
		if err != nil {
			return "", nil, nil, err
		}
		return Postgres, postgres.New(postgres.Config{Conn: pool}), pool, nil
	}
	dsn, err := sqliteDSN(o.URL, o.BusyTimeout)
	if err != nil {
		return "", nil, nil, err
	}
	if err := secureSQLiteFile(sqliteFilePath(o.URL)); err != nil {
		return "", nil, nil, err
	}
	registerSQLiteDriver()
	return SQLite, sqlite.Dialector{DriverName: sqliteDriverName, DSN: dsn}, nil, nil
}

// sqliteDSN turns a path (or file: URI) into a DSN with the pragmas Talos relies on: WAL so
// readers never block the writer, a busy timeout, enforced foreign keys, and a fixed time
// format that sorts as text. Write transactions are immediate (see sqlite_driver.go).
func sqliteDSN(path string, busy time.Duration) (string, error) {
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	base, query, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
	if base == "" || base == ":memory:" {
		return "", fmt.Errorf("open database: SQLite needs a file path, got %q", path)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("open database: parse SQLite options of %q: %w", path, err)
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_time_format", "sqlite")
	return "file:" + base + "?" + q.Encode(), nil
}

// applyPool sizes db's pool as o asks and returns the number of idle connections it keeps.
func applyPool(db *sql.DB, d Dialect, o Options) int {
	maxOpen, maxIdle := o.MaxOpenConns, o.MaxIdleConns
	if maxOpen <= 0 {
		maxOpen = postgresMaxOpen
		if d == SQLite {
			maxOpen = sqliteMaxOpen
		}
	}
	if maxIdle <= 0 {
		maxIdle = min(maxOpen, postgresMaxIdle)
	}
	lifetime := o.ConnMaxLifetime
	if lifetime <= 0 {
		lifetime = defaultConnLifetime
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(min(maxIdle, maxOpen))
	db.SetConnMaxLifetime(lifetime)
	return min(maxIdle, maxOpen)
}
