package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/talos-gs/talos/migrations"
)

// Migrate applies every pending migration of the store's dialect and returns the schema version
// reached. On PostgreSQL a session advisory lock makes concurrent start-ups of several replicas
// migrate one after the other.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	p, err := s.migrator(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate %s database: %w", s.dialect, err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion reports the applied schema version and the newest one this build knows.
func (s *Store) SchemaVersion(ctx context.Context) (applied, known int64, err error) {
	p, err := s.migrator(ctx)
	if err != nil {
		return 0, 0, err
	}
	applied, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	sources := p.ListSources()
	if len(sources) > 0 {
		known = sources[len(sources)-1].Version
	}
	return applied, known, nil
}

func (s *Store) migrator(ctx context.Context) (*goose.Provider, error) {
	dir, gooseDialect := "sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		dir, gooseDialect = "postgres", goose.DialectPostgres
		id, err := s.migrationLockID(ctx)
		if err != nil {
			return nil, err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", s.dialect, err)
	}
	p, err := goose.NewProvider(gooseDialect, s.sqlDB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", s.dialect, err)
	}
	return p, nil
}

// migrationLockID is the advisory lock taken while migrating: one per schema, since an advisory
// lock is server-wide. Replicas sharing a schema still migrate one after the other, while
// stores in different schemas (each test's own, or two deployments on one server) do not wait
// for each other.
func (s *Store) migrationLockID(ctx context.Context) (int64, error) {
	var schema string
	if err := s.sqlDB.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return 0, fmt.Errorf("migration lock: read the current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("talos migrate " + schema)) // a hash.Hash never fails to write
	return int64(h.Sum64() & math.MaxInt64), nil
}
