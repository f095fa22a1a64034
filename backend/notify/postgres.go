package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// DefaultChannel is the PostgreSQL notification channel for queued commands.
const DefaultChannel = "talos_commands"

// Postgres is a Notifier over PostgreSQL LISTEN/NOTIFY. Notify sends pg_notify through the
// shared pool (and wakes local subscribers at once); Run holds one dedicated connection that
// LISTENs and fans every notification out locally, reconnecting with backoff when it drops.
type Postgres struct {
	// URL is the database's postgres:// URL (the listener's own connection).
	URL string
	// DB is the shared pool NOTIFY goes through.
	DB *sql.DB
	// Channel is the notification channel (default DefaultChannel).
	Channel string
	Log     *zap.Logger

	local     *Local
	listening atomic.Bool
}

// NewPostgres returns a notifier; call Run to start listening.
func NewPostgres(url string, db *sql.DB, log *zap.Logger) *Postgres {
	return &Postgres{URL: url, DB: db, Channel: DefaultChannel, Log: log, local: NewLocal()}
}

// Subscribe implements Notifier.
func (p *Postgres) Subscribe(satelliteID string) (<-chan struct{}, func()) {
	return p.local.Subscribe(satelliteID)
}

// Notify implements Notifier: local subscribers wake at once, other replicas through NOTIFY
// (this replica's listener then wakes the local ones a second time, which is harmless).
func (p *Postgres) Notify(ctx context.Context, satelliteID string) error {
	_ = p.local.Notify(ctx, satelliteID)
	if _, err := p.DB.ExecContext(ctx, "SELECT pg_notify($1, $2)", p.Channel, satelliteID); err != nil {
		return fmt.Errorf("notify %s: %w", p.Channel, err)
	}
	return nil
}

// Subscribers counts this replica's open subscriptions.
func (p *Postgres) Subscribers() int { return p.local.Subscribers() }

// Listening reports whether the listener connection is up and LISTENing.
func (p *Postgres) Listening() bool { return p.listening.Load() }

// Run listens until ctx ends. A dropped connection is re-opened with capped, jittered backoff;
// after each (re)connect every local subscriber is woken, since notifications sent while the
// listener was away are lost.
func (p *Postgres) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := p.listen(ctx)
		if p.listening.Swap(false) {
			backoff = 100 * time.Millisecond // it was up: start the backoff afresh
		}
		if ctx.Err() != nil {
			return nil
		}
		p.Log.Warn("command notification listener lost its connection; reconnecting",
			zap.Error(err), zap.Duration("backoff", backoff))
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1)) //nolint:gosec // jitter, not a secret
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// listen opens the connection, LISTENs and delivers notifications until an error.
func (p *Postgres) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return fmt.Errorf("connect listener: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx) // the connection is being abandoned either way
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen on %s: %w", p.Channel, err)
	}
	p.listening.Store(true)
	p.local.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		_ = p.local.Notify(ctx, n.Payload)
	}
}
