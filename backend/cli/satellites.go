package cli

import (
	"context"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/sweeper"
)

// satelliteParts builds the satellite protocol's options and its background parts: the
// housekeeping sweeper and, on PostgreSQL, the LISTEN/NOTIFY listener that lets a command
// queued on one replica wake a long-poll held by another.
func satelliteParts(cfg *config.Config, st *store.Store, log *zap.Logger) (server.SatelliteOptions, []func(context.Context) error) {
	sw := &sweeper.Sweeper{Store: st, Log: log.Named("sweeper")}
	parts := []func(context.Context) error{sw.Run}
	if st.Dialect() != store.Postgres {
		return server.SatelliteOptions{Notifier: notify.NewLocal()}, parts
	}
	pg := notify.NewPostgres(cfg.DatabaseURL, st.SQL(), log.Named("notify"))
	return server.SatelliteOptions{Notifier: pg}, append(parts, pg.Run)
}
