package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

func scopeNotFound(name string) error { return fmt.Errorf("scope %q: %w", name, store.ErrNotFound) }

func secretNotFound(scope, key string) error {
	return fmt.Errorf("secret %q in scope %q: %w", key, scope, store.ErrNotFound)
}

// CreateScope implements store.Scopes. Creations are serialised by an
// advisory lock for the schema, so the limit holds across replicas.
func (s *Store) CreateScope(ctx context.Context, sc secrets.Scope, acls []secrets.ACL, maxScopes int) error {
	sk := secrets.ScopeKey(sc.Name)
	if sk == "" {
		return errors.New("create scope: scope name is empty")
	}
	for _, a := range acls {
		if err := checkACL(a); err != nil {
			return fmt.Errorf("create scope: %w", err)
		}
	}
	return s.tx(ctx, "create scope", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "hush/scopes"); err != nil {
			return err
		}
		var exists bool
		var count int
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scopes WHERE scope_key = $1), (SELECT count(*) FROM scopes)`, sk).Scan(&exists, &count); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("scope %q: %w", sc.Name, store.ErrExists)
		}
		if maxScopes > 0 && count >= maxScopes {
			return fmt.Errorf("%d scopes exist: %w", maxScopes, store.ErrLimit)
		}
		_, err := tx.Exec(ctx, `INSERT INTO scopes (scope_key, name, backend, files_path, created_at) VALUES ($1, $2, $3, $4, $5)`,
			sk, sc.Name, string(sc.Backend), sc.FilesPath, ts(sc.CreatedAt))
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("scope %q: %w", sc.Name, store.ErrExists)
		}
		if err != nil {
			return err
		}
		for _, a := range acls {
			if _, err := tx.Exec(ctx, `INSERT INTO acls (scope_key, principal, permission) VALUES ($1, $2, $3)
				ON CONFLICT (scope_key, principal) DO UPDATE SET permission = EXCLUDED.permission`,
				sk, a.Principal, a.Permission.String()); err != nil {
				return fmt.Errorf("acl for %q: %w", a.Principal, err)
			}
		}
		return nil
	})
}

const scopeCols = `name, backend, files_path, created_at`

func scanScope(row pgx.Row) (secrets.Scope, error) {
	var sc secrets.Scope
	var backend string
	var created *time.Time
	if err := row.Scan(&sc.Name, &backend, &sc.FilesPath, &created); err != nil {
		return secrets.Scope{}, err
	}
	sc.Backend = secrets.BackendType(backend)
	sc.CreatedAt = fromDB(created)
	return sc, nil
}

// GetScope implements store.Scopes.
func (s *Store) GetScope(ctx context.Context, name string) (secrets.Scope, error) {
	sc, err := scanScope(s.pool.QueryRow(ctx, `SELECT `+scopeCols+` FROM scopes WHERE scope_key = $1`, secrets.ScopeKey(name)))
	if errors.Is(err, pgx.ErrNoRows) {
		return secrets.Scope{}, fmt.Errorf("get scope: %w", scopeNotFound(name))
	}
	if err != nil {
		return secrets.Scope{}, fmt.Errorf("get scope %q: %w", name, err)
	}
	return sc, nil
}

// ListScopes implements store.Scopes.
func (s *Store) ListScopes(ctx context.Context) ([]secrets.Scope, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scopeCols+` FROM scopes ORDER BY scope_key`)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (secrets.Scope, error) { return scanScope(r) })
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	return nonNil(out), nil
}

// DeleteScope implements store.Scopes; secrets and ACLs go with it (ON DELETE CASCADE).
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM scopes WHERE scope_key = $1`, secrets.ScopeKey(name))
	if err != nil {
		return fmt.Errorf("delete scope %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete scope: %w", scopeNotFound(name))
	}
	return nil
}

// PutSecret implements store.Scopes. It locks the scope's row, so that
// concurrent inserts into one scope, from any replica, count one another.
func (s *Store) PutSecret(ctx context.Context, sec store.Secret, maxSecrets int) error {
	sk := secrets.ScopeKey(sec.Scope)
	if sec.Key == "" {
		return errors.New("put secret: secret key is empty")
	}
	sealed := sec.Sealed
	if sealed == nil {
		sealed = []byte{}
	}
	return s.tx(ctx, "put secret", func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM scopes WHERE scope_key = $1 FOR NO KEY UPDATE`, sk).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return scopeNotFound(sec.Scope)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE secrets SET sealed = $3, updated_at = $4 WHERE scope_key = $1 AND key = $2`,
			sk, sec.Key, sealed, ts(sec.UpdatedAt))
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		if maxSecrets > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE scope_key = $1`, sk).Scan(&n); err != nil {
				return err
			}
			if n >= maxSecrets {
				return fmt.Errorf("scope %q has %d secrets: %w", sec.Scope, maxSecrets, store.ErrLimit)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO secrets (scope_key, key, sealed, updated_at) VALUES ($1, $2, $3, $4)`,
			sk, sec.Key, sealed, ts(sec.UpdatedAt))
		return err
	})
}

// GetSecret implements store.Scopes, telling a missing scope from a missing
// key in the error message with one query.
func (s *Store) GetSecret(ctx context.Context, scope, key string) (store.Secret, error) {
	sk := secrets.ScopeKey(scope)
	var sealed []byte
	var found bool
	var updated *time.Time
	err := s.pool.QueryRow(ctx, `SELECT x.key IS NOT NULL, x.sealed, x.updated_at
		FROM scopes s LEFT JOIN secrets x ON x.scope_key = s.scope_key AND x.key = $2
		WHERE s.scope_key = $1`, sk, key).Scan(&found, &sealed, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Secret{}, fmt.Errorf("get secret: %w", scopeNotFound(scope))
	}
	if err != nil {
		return store.Secret{}, fmt.Errorf("get secret %q in scope %q: %w", key, scope, err)
	}
	if !found {
		return store.Secret{}, fmt.Errorf("get secret: %w", secretNotFound(scope, key))
	}
	if sealed == nil {
		sealed = []byte{}
	}
	return store.Secret{Scope: sk, Key: key, Sealed: sealed, UpdatedAt: fromDB(updated)}, nil
}

// ListSecrets implements store.Scopes.
func (s *Store) ListSecrets(ctx context.Context, scope string) ([]secrets.SecretMeta, error) {
	rows, err := s.pool.Query(ctx, `SELECT x.key, x.updated_at
		FROM scopes s LEFT JOIN secrets x ON x.scope_key = s.scope_key
		WHERE s.scope_key = $1 ORDER BY x.key`, secrets.ScopeKey(scope))
	if err != nil {
		return nil, fmt.Errorf("list secrets of %q: %w", scope, err)
	}
	defer rows.Close()
	var scopeSeen bool
	out := []secrets.SecretMeta{}
	for rows.Next() {
		scopeSeen = true
		var key *string
		var updated *time.Time
		if err := rows.Scan(&key, &updated); err != nil {
			return nil, fmt.Errorf("list secrets of %q: %w", scope, err)
		}
		if key != nil {
			out = append(out, secrets.SecretMeta{Key: *key, UpdatedAt: fromDB(updated)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secrets of %q: %w", scope, err)
	}
	if !scopeSeen {
		return nil, fmt.Errorf("list secrets: %w", scopeNotFound(scope))
	}
	return out, nil
}

// DeleteSecret implements store.Scopes.
func (s *Store) DeleteSecret(ctx context.Context, scope, key string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE scope_key = $1 AND key = $2`, secrets.ScopeKey(scope), key)
	if err != nil {
		return fmt.Errorf("delete secret %q in scope %q: %w", key, scope, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete secret: %w", secretNotFound(scope, key))
	}
	return nil
}
