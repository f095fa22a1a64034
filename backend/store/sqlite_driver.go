package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"

	gosqlite "github.com/glebarez/go-sqlite"
)

// sqliteDriverName is the database/sql driver Talos registers for SQLite: the pure-Go driver,
// with every read-write transaction started as BEGIN IMMEDIATE.
//
// Why: a deferred transaction that reads and then writes must upgrade its lock, and when two
// connections try that at once SQLite fails one with SQLITE_BUSY at once, without waiting for
// the busy timeout. BEGIN IMMEDIATE takes the write lock up front, so writers queue on the busy
// timeout instead. The driver's own _txlock option is ignored whenever _time_format is also given
// (go-sqlite v1.21.2 returns early), and Talos needs both, hence this thin wrapper.
const sqliteDriverName = "talos-sqlite"

var registerSQLite sync.Once

func registerSQLiteDriver() {
	registerSQLite.Do(func() { sql.Register(sqliteDriverName, immediateDriver{}) })
}

type immediateDriver struct{}

func (immediateDriver) Open(name string) (driver.Conn, error) {
	c, err := (&gosqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	return &immediateConn{Conn: c}, nil
}

// immediateConn forwards everything to the driver's connection except BeginTx.
type immediateConn struct {
	driver.Conn
}

func (c *immediateConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.ReadOnly {
		if b, ok := c.Conn.(driver.ConnBeginTx); ok {
			return b.BeginTx(ctx, opts)
		}
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
		return nil, err
	}
	return immediateTx{c}, nil
}

func (c *immediateConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return e.ExecContext(ctx, query, args)
}

func (c *immediateConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return q.QueryContext(ctx, query, args)
}

func (c *immediateConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

func (c *immediateConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *immediateConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *immediateConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *immediateConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type immediateTx struct{ c *immediateConn }

func (t immediateTx) Commit() error {
	if _, err := t.c.ExecContext(context.Background(), "COMMIT", nil); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (t immediateTx) Rollback() error {
	if _, err := t.c.ExecContext(context.Background(), "ROLLBACK", nil); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
