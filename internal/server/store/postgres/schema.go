package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema versions in order: migrations[i] brings the
// schema to version i+1. Never edit a released migration; append a new one.
//
// Names and keys use COLLATE "C" so that ORDER BY is byte order, the order
// the bolt store lists in, whatever the database's default collation.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE scopes (
	scope_key  text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	backend    text NOT NULL,
	files_path text NOT NULL DEFAULT '',
	created_at timestamptz
);
CREATE TABLE secrets (
	scope_key  text COLLATE "C" NOT NULL REFERENCES scopes (scope_key) ON DELETE CASCADE,
	key        text COLLATE "C" NOT NULL,
	sealed     bytea NOT NULL,
	updated_at timestamptz,
	PRIMARY KEY (scope_key, key)
);
CREATE TABLE acls (
	scope_key  text COLLATE "C" NOT NULL REFERENCES scopes (scope_key) ON DELETE CASCADE,
	principal  text COLLATE "C" NOT NULL,
	permission text NOT NULL CHECK (permission IN ('READ', 'WRITE', 'MANAGE')),
	PRIMARY KEY (scope_key, principal)
);
CREATE TABLE users (
	id           text COLLATE "C" PRIMARY KEY,
	user_name    text COLLATE "C" NOT NULL UNIQUE,
	display_name text NOT NULL DEFAULT '',
	active       boolean NOT NULL,
	created_at   timestamptz
);
CREATE TABLE groups (
	id           text COLLATE "C" PRIMARY KEY,
	display_name text COLLATE "C" NOT NULL UNIQUE,
	members      text[] NOT NULL DEFAULT '{}',
	created_at   timestamptz
);
CREATE INDEX groups_members ON groups USING gin (members);
CREATE TABLE tokens (
	id         text COLLATE "C" PRIMARY KEY,
	user_id    text COLLATE "C" NOT NULL,
	hash       bytea NOT NULL UNIQUE,
	comment    text NOT NULL DEFAULT '',
	created_at timestamptz,
	expires_at timestamptz,
	created_by text NOT NULL DEFAULT ''
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE TABLE audit_events (
	seq        bigserial PRIMARY KEY,
	at         timestamptz,
	actor      text COLLATE "C" NOT NULL DEFAULT '',
	action     text NOT NULL DEFAULT '',
	scope      text NOT NULL DEFAULT '',
	scope_key  text COLLATE "C" NOT NULL DEFAULT '',
	key        text NOT NULL DEFAULT '',
	remote     text NOT NULL DEFAULT '',
	allowed    boolean NOT NULL,
	error_code text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at, seq);
CREATE INDEX audit_events_scope ON audit_events (scope_key, at, seq);
CREATE TABLE meta (
	name  text PRIMARY KEY,
	value bytea NOT NULL
);
`,
	// 2: service principals are users with a flag; audit events say more
	// about what an action did (such as the ACLs a deletion removed).
	`
ALTER TABLE users ADD COLUMN service_principal boolean NOT NULL DEFAULT false;
ALTER TABLE audit_events ADD COLUMN detail text NOT NULL DEFAULT '';
`,
}

// SchemaVersion returns the schema version this code writes and expects.
func SchemaVersion() int { return len(migrations) }

// lockKey names an advisory lock for this schema, so installations in
// different schemas of one database do not wait on each other.
const lockKey = `hashtext($1 || '/' || coalesce(current_schema(), ''))`

// migrate applies the missing migrations, each in its own transaction under
// an advisory lock, so replicas starting at once apply each exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for i, m := range migrations {
		version := i + 1
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "hush/migrate"); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			var latest int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
				return err
			}
			if latest > len(migrations) {
				return fmt.Errorf("the database schema is at version %d, newer than this hush knows (%d): upgrade hush", latest, len(migrations))
			}
			if latest >= version {
				return nil
			}
			if _, err := tx.Exec(ctx, m); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", version, err)
		}
	}
	return nil
}
