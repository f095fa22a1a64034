package cli

import (
	"context"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/sweeper"
)

// satelliteParts builds the satellite protocol's options and its background parts: the
// housekeeping sweeper and, on PostgreSQL, the LISTEN/NOTIFY listener that lets a command
// queued on one replica wake a long-poll held by another.
// The sweeper is returned so serve can give it the artifact parts before it runs.
func satelliteParts(cfg *config.Config, st *store.Store, log *zap.Logger) (server.SatelliteOptions, *sweeper.Sweeper, []func(context.Context) error) {
	sw := &sweeper.Sweeper{Store: st, Log: log.Named("sweeper"), Retention: cfg.Retention,
		DownsampleAfter: cfg.HeartbeatDownsampleAfter, DownsampleBucket: cfg.HeartbeatDownsampleBucket}
	parts := []func(context.Context) error{sw.Run}
	opts := server.SatelliteOptions{Notifier: notify.NewLocal(), Lease: cfg.CommandLease,
		RegisterLimiter: ratelimit.New(cfg.RegisterEvery, cfg.RegisterBurst, 10_000, nil)}
	sw.Notifier = opts.Notifier
	if st.Dialect() != store.Postgres {
		return opts, sw, parts
	}
	pg := notify.NewPostgres(cfg.DatabaseURL, st.SQL(), log.Named("notify"))
	opts.Notifier, sw.Notifier = pg, pg
	return opts, sw, append(parts, pg.Run)
}
