package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

func aclNotFound(scope, principal string) error {
	return fmt.Errorf("acl for %q on scope %q: %w", principal, scope, store.ErrNotFound)
}

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

// GrantACL implements store.Scopes. It holds the identity lock shared,
// so it waits for a concurrent deletion or rename of the principal, and
// concurrent grants do not wait for each other.
func (s *Store) GrantACL(ctx context.Context, scope string, acl secrets.ACL) error {
	if err := checkACL(acl); err != nil {
		return fmt.Errorf("grant acl: %w", err)
	}
	return s.tx(ctx, "grant acl", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+lockKey+`)`, "hush/identities"); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if acl.Principal != store.AllUsersGroup && acl.Principal != store.AdminGroup {
			var found bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE user_name = $1)
				OR EXISTS (SELECT 1 FROM groups WHERE display_name = $1)`, acl.Principal).Scan(&found)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("acl principal %q: %w", acl.Principal, store.ErrNoPrincipal)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO acls (scope_key, principal, permission) VALUES ($1, $2, $3)
			ON CONFLICT (scope_key, principal) DO UPDATE SET permission = EXCLUDED.permission`,
			secrets.ScopeKey(scope), acl.Principal, acl.Permission.String())
		if isCode(err, foreignKeyViolation) {
			return scopeNotFound(scope)
		}
		return err
	})
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
