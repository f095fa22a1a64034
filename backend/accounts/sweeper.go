package accounts

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// SessionSweeper deletes expired login sessions periodically, so the sessions table stays the
// size of the live user base.
type SessionSweeper struct {
	Store *store.Store
	Log   *zap.Logger
	// Every is the sweep interval.
	Every time.Duration
}

// Run sweeps once at start and then every s.Every until ctx ends. A failed sweep is logged and
// retried at the next tick: sessions are checked for expiry on use anyway.
func (s *SessionSweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *SessionSweeper) sweep(ctx context.Context) {
	n, err := s.Store.DeleteExpiredSessions(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.Log.Warn("sweep expired sessions", zap.Error(err))
	case n > 0:
		s.Log.Debug("swept expired sessions", zap.Int64("deleted", n))
	}
}
