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
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hush-secrets/hush/internal/secrets"
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

// ---- helpers ----

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

func scopeNotFound(name string) error { return fmt.Errorf("scope %q: %w", name, store.ErrNotFound) }

func secretNotFound(scope, key string) error {
	return fmt.Errorf("secret %q in scope %q: %w", key, scope, store.ErrNotFound)
}

func aclNotFound(scope, principal string) error {
	return fmt.Errorf("acl for %q on scope %q: %w", principal, scope, store.ErrNotFound)
}

// ---- scopes ----

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

// ---- secrets ----

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

// ---- ACLs ----

// checkACL refuses ACLs that could not be read back.
func checkACL(a secrets.ACL) error {
	if a.Principal == "" {
		return errors.New("acl principal is empty")
	}
	if a.Permission.String() == "" {
		return fmt.Errorf("acl for %q: invalid permission %d", a.Principal, a.Permission)
	}
	return nil
}

// PutACL implements store.Scopes.
func (s *Store) PutACL(ctx context.Context, scope string, acl secrets.ACL) error {
	if err := checkACL(acl); err != nil {
		return fmt.Errorf("put acl: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO acls (scope_key, principal, permission) VALUES ($1, $2, $3)
		ON CONFLICT (scope_key, principal) DO UPDATE SET permission = EXCLUDED.permission`,
		secrets.ScopeKey(scope), acl.Principal, acl.Permission.String())
	if isCode(err, foreignKeyViolation) {
		return fmt.Errorf("put acl: %w", scopeNotFound(scope))
	}
	if err != nil {
		return fmt.Errorf("put acl for %q on scope %q: %w", acl.Principal, scope, err)
	}
	return nil
}

func parseACL(principal, perm string) (secrets.ACL, error) {
	p, err := secrets.ParsePermission(perm)
	if err != nil {
		return secrets.ACL{}, fmt.Errorf("acl for %q: %w", principal, err)
	}
	return secrets.ACL{Principal: principal, Permission: p}, nil
}

// GetACL implements store.Scopes.
func (s *Store) GetACL(ctx context.Context, scope, principal string) (secrets.ACL, error) {
	var perm *string
	err := s.pool.QueryRow(ctx, `SELECT a.permission
		FROM scopes s LEFT JOIN acls a ON a.scope_key = s.scope_key AND a.principal = $2
		WHERE s.scope_key = $1`, secrets.ScopeKey(scope), principal).Scan(&perm)
	if errors.Is(err, pgx.ErrNoRows) {
		return secrets.ACL{}, fmt.Errorf("get acl: %w", scopeNotFound(scope))
	}
	if err != nil {
		return secrets.ACL{}, fmt.Errorf("get acl for %q on scope %q: %w", principal, scope, err)
	}
	if perm == nil {
		return secrets.ACL{}, fmt.Errorf("get acl: %w", aclNotFound(scope, principal))
	}
	return parseACL(principal, *perm)
}

// ListACLs implements store.Scopes.
func (s *Store) ListACLs(ctx context.Context, scope string) ([]secrets.ACL, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.principal, a.permission
		FROM scopes s LEFT JOIN acls a ON a.scope_key = s.scope_key
		WHERE s.scope_key = $1 ORDER BY a.principal`, secrets.ScopeKey(scope))
	if err != nil {
		return nil, fmt.Errorf("list acls of %q: %w", scope, err)
	}
	defer rows.Close()
	var scopeSeen bool
	out := []secrets.ACL{}
	for rows.Next() {
		scopeSeen = true
		var principal, perm *string
		if err := rows.Scan(&principal, &perm); err != nil {
			return nil, fmt.Errorf("list acls of %q: %w", scope, err)
		}
		if principal == nil {
			continue
		}
		a, err := parseACL(*principal, *perm)
		if err != nil {
			return nil, fmt.Errorf("list acls of %q: %w", scope, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list acls of %q: %w", scope, err)
	}
	if !scopeSeen {
		return nil, fmt.Errorf("list acls: %w", scopeNotFound(scope))
	}
	return out, nil
}

// DeleteACL implements store.Scopes.
func (s *Store) DeleteACL(ctx context.Context, scope, principal string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM acls WHERE scope_key = $1 AND principal = $2`, secrets.ScopeKey(scope), principal)
	if err != nil {
		return fmt.Errorf("delete acl for %q on scope %q: %w", principal, scope, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete acl: %w", aclNotFound(scope, principal))
	}
	return nil
}

// ---- users ----

const userCols = `id, user_name, display_name, active, created_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created *time.Time
	if err := row.Scan(&u.ID, &u.UserName, &u.DisplayName, &u.Active, &created); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromDB(created)
	return u, nil
}

func (s *Store) oneUser(ctx context.Context, what, where, arg string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("%s %q: %w", what, arg, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("%s %q: %w", what, arg, err)
	}
	return u, nil
}

// CreateUser implements store.Identities.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if u.ID == "" || u.UserName == "" {
		return errors.New("create user: id and user name must not be empty")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.UserName, u.DisplayName, u.Active, ts(u.CreatedAt))
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("create user %q (id %q): %w", u.UserName, u.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.UserName, err)
	}
	return nil
}

// GetUser implements store.Identities.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return s.oneUser(ctx, "get user id", "id", id)
}

// GetUserByName implements store.Identities.
func (s *Store) GetUserByName(ctx context.Context, userName string) (store.User, error) {
	return s.oneUser(ctx, "get user", "user_name", userName)
}

// ListUsers implements store.Identities.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY user_name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return nonNil(out), nil
}

// UpdateUser implements store.Identities.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	if u.UserName == "" {
		return errors.New("update user: user name must not be empty")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET user_name = $2, display_name = $3, active = $4, created_at = $5 WHERE id = $1`,
		u.ID, u.UserName, u.DisplayName, u.Active, ts(u.CreatedAt))
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("update user: user %q: %w", u.UserName, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("update user id %q: %w", u.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update user id %q: %w", u.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteUser implements store.Identities.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.tx(ctx, "delete user", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user id %q: %w", id, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE user_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE groups SET members = array_remove(members, $1) WHERE members @> ARRAY[$1]::text[]`, id)
		return err
	})
}

// ---- groups ----

const groupCols = `id, display_name, members, created_at`

func scanGroup(row pgx.Row) (store.Group, error) {
	var g store.Group
	var created *time.Time
	if err := row.Scan(&g.ID, &g.DisplayName, &g.Members, &created); err != nil {
		return store.Group{}, err
	}
	if g.Members == nil {
		g.Members = []string{}
	}
	g.CreatedAt = fromDB(created)
	return g, nil
}

func members(m []string) []string {
	if m == nil {
		return []string{}
	}
	return slices.Clone(m)
}

// CreateGroup implements store.Identities.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	if g.ID == "" || g.DisplayName == "" {
		return errors.New("create group: id and display name must not be empty")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4)`,
		g.ID, g.DisplayName, members(g.Members), ts(g.CreatedAt))
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("create group %q (id %q): %w", g.DisplayName, g.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create group %q: %w", g.DisplayName, err)
	}
	return nil
}

func (s *Store) oneGroup(ctx context.Context, what, where, arg string) (store.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, `SELECT `+groupCols+` FROM groups WHERE `+where+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Group{}, fmt.Errorf("%s %q: %w", what, arg, store.ErrNotFound)
	}
	if err != nil {
		return store.Group{}, fmt.Errorf("%s %q: %w", what, arg, err)
	}
	return g, nil
}

// GetGroup implements store.Identities.
func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	return s.oneGroup(ctx, "get group id", "id", id)
}

// GetGroupByName implements store.Identities.
func (s *Store) GetGroupByName(ctx context.Context, displayName string) (store.Group, error) {
	return s.oneGroup(ctx, "get group", "display_name", displayName)
}

func (s *Store) groups(ctx context.Context, what, query string, args ...any) ([]store.Group, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Group, error) { return scanGroup(r) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return nonNil(out), nil
}

// ListGroups implements store.Identities.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	return s.groups(ctx, "list groups", `SELECT `+groupCols+` FROM groups ORDER BY display_name`)
}

// UpdateGroup implements store.Identities: ErrNotFound for an unknown ID,
// ErrExists if the new display name belongs to another group.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	if g.DisplayName == "" {
		return errors.New("update group: display name must not be empty")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE groups SET display_name = $2, members = $3, created_at = $4 WHERE id = $1`,
		g.ID, g.DisplayName, members(g.Members), ts(g.CreatedAt))
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("update group: group %q: %w", g.DisplayName, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("update group id %q: %w", g.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update group id %q: %w", g.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteGroup implements store.Identities.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete group id %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete group id %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// GroupsOf implements store.Identities; groups come ordered by display name.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]store.Group, error) {
	return s.groups(ctx, "groups of user", `SELECT `+groupCols+` FROM groups WHERE members @> ARRAY[$1]::text[] ORDER BY display_name`, userID)
}

// ---- tokens ----

const tokenCols = `id, user_id, hash, comment, created_at, expires_at, created_by`

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	var created, expires *time.Time
	if err := row.Scan(&t.ID, &t.UserID, &t.Hash, &t.Comment, &created, &expires, &t.CreatedBy); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt, t.ExpiresAt = fromDB(created), fromDB(expires)
	return t, nil
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("create token: id and hash must not be empty")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.UserID, t.Hash, t.Comment, ts(t.CreatedAt), ts(t.ExpiresAt), t.CreatedBy)
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("create token id %q (or its hash): %w", t.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create token id %q: %w", t.ID, err)
	}
	return nil
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if len(hash) == 0 {
		return store.Token{}, fmt.Errorf("token by hash: empty hash: %w", store.ErrNotFound)
	}
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("token by hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("token by hash: %w", err)
	}
	return t, nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("get token id %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("get token id %q: %w", id, err)
	}
	return t, nil
}

// ListTokens implements store.Tokens, ordered by creation time, then ID.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens WHERE $1 = '' OR user_id = $1
		ORDER BY created_at NULLS FIRST, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return nonNil(out), nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete token id %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete token id %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// ---- audit ----

// AppendEvent implements store.Audit.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, actor, action, scope, scope_key, key, remote, allowed, error_code)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		ts(e.Time), e.Actor, e.Action, e.Scope, secrets.ScopeKey(e.Scope), e.Key, e.Remote, e.Allowed, e.ErrorCode)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AppendEvents appends events in one INSERT statement (one round trip,
// one commit): the batch is stored entirely or not at all, and seq follows
// the slice order (PostgreSQL evaluates the volatile nextval default after
// the ORDER BY). The server uses it for group commit.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	at := make([]*time.Time, n)
	actor, action, scope, scopeKey := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	key, remote, code := make([]string, n), make([]string, n), make([]string, n)
	allowed := make([]bool, n)
	for i, e := range events {
		if !e.Time.IsZero() {
			t := e.Time.Truncate(time.Microsecond).UTC()
			at[i] = &t
		}
		actor[i], action[i], scope[i], scopeKey[i] = e.Actor, e.Action, e.Scope, secrets.ScopeKey(e.Scope)
		key[i], remote[i], allowed[i], code[i] = e.Key, e.Remote, e.Allowed, e.ErrorCode
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, actor, action, scope, scope_key, key, remote, allowed, error_code)
		SELECT at, actor, action, scope, scope_key, key, remote, allowed, error_code
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::text[])
			WITH ORDINALITY AS e(at, actor, action, scope, scope_key, key, remote, allowed, error_code, ord)
		ORDER BY ord`,
		at, actor, action, scope, scopeKey, key, remote, allowed, code)
	if err != nil {
		return fmt.Errorf("append %d audit events: %w", n, err)
	}
	return nil
}

// ListEvents implements store.Audit. Scope compares case-insensitively,
// Actor exactly; Since is inclusive.
func (s *Store) ListEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error) {
	where := `($1 = '' OR scope_key = $1) AND ($2 = '' OR actor = $2) AND ($3::timestamptz IS NULL OR at >= $3)`
	args := []any{secrets.ScopeKey(f.Scope), f.Actor, ts(f.Since)}
	q := `SELECT at, actor, action, scope, key, remote, allowed, error_code FROM audit_events WHERE ` + where +
		` ORDER BY at NULLS FIRST, seq`
	if f.Limit > 0 {
		q = `SELECT at, actor, action, scope, key, remote, allowed, error_code FROM (
			SELECT * FROM audit_events WHERE ` + where + ` ORDER BY at DESC NULLS LAST, seq DESC LIMIT $4
		) newest ORDER BY at NULLS FIRST, seq`
		args = append(args, f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var at *time.Time
		err := r.Scan(&at, &e.Actor, &e.Action, &e.Scope, &e.Key, &e.Remote, &e.Allowed, &e.ErrorCode)
		e.Time = fromDB(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return nonNil(out), nil
}

// ---- meta ----

// InitMeta implements store.Meta. The insert waits for a racing one to
// commit; the following read then sees the winner's value.
func (s *Store) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	if value == nil {
		value = []byte{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return nil, fmt.Errorf("init meta %q: %w", name, err)
	}
	return s.GetMeta(ctx, name)
}

// GetMeta implements store.Meta.
func (s *Store) GetMeta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get meta %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get meta %q: %w", name, err)
	}
	return v, nil
}

// PutMeta implements store.Meta.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, name, value)
	if err != nil {
		return fmt.Errorf("put meta %q: %w", name, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
