// Package postgres is the store of hush serve for many replicas: every
// replica opens the same PostgreSQL database, and the database keeps them
// consistent. Open applies the schema migrations (safe when replicas start
// at once). Limits hold across replicas: creating a scope takes an advisory
// lock for the schema, and adding a secret locks its scope's row, so the
// count checked is the count committed.
//
// Timestamps are kept at microsecond precision (what timestamptz holds),
// truncated, and returned in UTC; the zero time is stored as NULL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hush-secrets/hush/internal/server/store"
)

// Store is the PostgreSQL-backed store.Store.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string as libpq accepts; extra parameters such as search_path become
// session settings) and brings its schema up to date. Pool settings go in
// the DSN too, e.g. pool_max_conns=32 (pgx's default is max(4, CPUs)).
// ctx bounds the connection attempt and the migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, and with it perhaps a password
		// (so do net/url's, which pgx wraps): say only that it is invalid.
		return nil, errors.New("open postgres store: the connection string is not valid (expected postgres://user@host:port/database?sslmode=...)")
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the connection pool (for health checks and tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ts converts a time to its stored form: NULL for the zero time, else
// truncated to microseconds.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Microsecond).UTC()
}

// fromDB converts a scanned timestamptz back.
func fromDB(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func isCode(err error, code string) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == code
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func (s *Store) tx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	if err := pgx.BeginFunc(ctx, s.pool, fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
