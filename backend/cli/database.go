package cli

import (
	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

// openStore opens and migrates the configured database. Every command migrates first, so an
// admin command on a fresh database works before the first `serve`.
func openStore(e *env, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(e.ctx, store.Options{
		URL: cfg.DatabaseURL, MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnLifetime,
	})
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(e.ctx); err != nil {
		_ = st.Close() // the migration error is the one to report
		return nil, err
	}
	return st, nil
}

// withStore loads the configuration, opens the store, runs fn and closes the store.
func withStore(e *env, fn func(cfg *config.Config, st *store.Store) error) error {
	cfg, err := e.config()
	if err != nil {
		return err
	}
	if err := ensureDataDir(cfg); err != nil {
		return err
	}
	st, err := openStore(e, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }() // nothing left to do about a failed close
	return fn(cfg, st)
}
