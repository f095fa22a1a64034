package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
)

// PostgreSQL connections die under the backend: a failover, a restart, an operator's
// pg_terminate_backend. Every pooled connection is then dead, and the next statement on each
// fails although the database is back. The pool below retries once, on a healthy connection,
// every statement that is safe to run twice (docs/decisions/0067):
//   - BEGIN: nothing has happened yet, so a transaction whose BEGIN met a dead connection is
//     started again;
//   - a SELECT outside a transaction;
//   - any statement of a context marked Idempotent (the server marks GET requests and the
//     protocol calls that are idempotent by design: event batches, command status reports).
// After a lost connection the pool pings each connection before reuse for a while, so the
// retry and the requests after it do not meet the other dead connections of the pool.

// suspectFor is how long after a lost connection every pooled connection is pinged before use;
// flushEvery is how often at most the idle connections are closed on a lost connection.
// retryPause is how long a retry waits: connections are terminated one after another, and a
// retry started at once can meet one whose termination is still under way.
const (
	suspectFor = 10 * time.Second
	flushEvery = time.Second
	retryPause = 50 * time.Millisecond
)

type idempotentKey struct{}

// Idempotent marks ctx: every statement run under it may be run a second time after a lost
// connection without changing the outcome.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

func isIdempotent(ctx context.Context) bool {
	v, _ := ctx.Value(idempotentKey{}).(bool)
	return v
}

// reconnectPool is the gorm connection pool of a PostgreSQL store.
type reconnectPool struct {
	db *sql.DB
	// suspectUntil (unix nanoseconds) is when pinging every connection before reuse stops.
	suspectUntil atomic.Int64
	// lastFlush (unix nanoseconds) is when the idle connections were last closed.
	lastFlush atomic.Int64
	retries   atomic.Int64
	// maxIdle is the pool's idle connection limit, restored after a flush.
	maxIdle int
}

// openPostgres opens the pool for url with the ping-before-reuse rule wired into pgx.
func openPostgres(url string) (*reconnectPool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	p := &reconnectPool{}
	p.db = stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(p.shouldPing))
	return p, nil
}

// shouldPing keeps pgx's rule (ping a connection idle for over a second) and adds: ping every
// connection while connections are being lost, so a dead one is dropped, not used.
func (p *reconnectPool) shouldPing(_ context.Context, params stdlib.ShouldPingParams) bool {
	return params.IdleDuration > time.Second || time.Now().UnixNano() < p.suspectUntil.Load()
}

// lost reports whether err means the connection died. If so it starts the suspect period and
// closes the idle connections (at most once a second): when one connection was lost, the others
// were most likely lost with it, and a connection that is still being terminated can pass a
// ping and die just after. New connections are new server processes.
func (p *reconnectPool) lost(err error) bool {
	if !connectionLost(err) {
		return false
	}
	now := time.Now()
	p.suspectUntil.Store(now.Add(suspectFor).UnixNano())
	p.retries.Add(1)
	last := p.lastFlush.Load()
	if now.UnixNano()-last > int64(flushEvery) && p.lastFlush.CompareAndSwap(last, now.UnixNano()) {
		p.db.SetMaxIdleConns(0)
		p.db.SetMaxIdleConns(p.maxIdle)
	}
	return true
}

// GetDBConn gives gorm the *sql.DB behind the pool.
func (p *reconnectPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

// PrepareContext is not retried: a prepared statement belongs to one connection.
func (p *reconnectPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

// BeginTx starts a transaction, once more on another connection when BEGIN met a dead one.
func (p *reconnectPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil && ctx.Err() == nil && p.lost(err) && pause(ctx) {
		return p.db.BeginTx(ctx, opts)
	}
	return tx, err
}

// ExecContext runs a statement, twice if the connection died and the context is Idempotent.
func (p *reconnectPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := p.db.ExecContext(ctx, query, args...)
	if err != nil && p.retryable(ctx, query, err) {
		return p.db.ExecContext(ctx, query, args...)
	}
	return res, err
}

// QueryContext runs a query. Its retry is registerRetry's: a connection can also die while the
// rows are read, after QueryContext returned.
func (p *reconnectPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, query, args...)
}

// registerRetry makes gorm run a query (Find, First, Take, Pluck, Count, Scan) once more when
// its connection died while it ran or while its rows were read, and running it again is safe.
// Queries inside a transaction are not retried here: the transaction died with the connection
// (Store.Tx retries it whole under an Idempotent context).
func (p *reconnectPool) registerRetry(db *gorm.DB) error {
	return db.Callback().Query().After("gorm:query").Register("talos:reconnect", func(tx *gorm.DB) {
		if tx.Error == nil || tx.Statement.ConnPool != gorm.ConnPool(p) {
			return
		}
		if !p.retryable(tx.Statement.Context, tx.Statement.SQL.String(), tx.Error) {
			return
		}
		tx.Error = nil
		callbacks.Query(tx)
	})
}

// QueryRowContext is QueryContext for one row; its error shows in Row.Err.
func (p *reconnectPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	row := p.db.QueryRowContext(ctx, query, args...)
	if err := row.Err(); err != nil && p.retryable(ctx, query, err) {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return row
}

// retryable: the connection died (not the caller's context), and running query again cannot
// change the outcome.
func (p *reconnectPool) retryable(ctx context.Context, query string, err error) bool {
	if ctx.Err() != nil || !p.lost(err) {
		return false
	}
	return (isIdempotent(ctx) || readOnly(query)) && pause(ctx)
}

// pause waits retryPause, or less when ctx ends first (then it reports false: no retry).
func pause(ctx context.Context) bool {
	t := time.NewTimer(retryPause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readOnly reports whether query is a plain SELECT. (A WITH query may hide a data-modifying
// statement, so it counts only under an Idempotent context.)
func readOnly(query string) bool {
	q := strings.TrimSpace(query)
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// connectionLost reports whether err says the connection to PostgreSQL is gone, as opposed to
// an error of the statement itself.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 is connection exception; 57P01..57P03 are admin shutdown (pg_terminate_backend,
		// a fast shutdown), crash shutdown and "cannot connect now" (the server is restarting).
		return strings.HasPrefix(pgErr.Code, "08") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) ||
		(errors.As(err, &netErr) && !netErr.Timeout())
}

// ReconnectRetries counts statements run again after a lost PostgreSQL connection (0 on
// SQLite).
func (s *Store) ReconnectRetries() int64 {
	if s.pool == nil {
		return 0
	}
	return s.pool.retries.Load()
}
