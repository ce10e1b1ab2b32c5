package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/server/store"
)

const userCols = `id, user_name, display_name, active, created_at, service_principal`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created *time.Time
	if err := row.Scan(&u.ID, &u.UserName, &u.DisplayName, &u.Active, &created, &u.ServicePrincipal); err != nil {
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
	return s.identityTx(ctx, "create user", func(tx pgx.Tx) error {
		if err := nameFree(ctx, tx, u.UserName); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.UserName, u.DisplayName, u.Active, ts(u.CreatedAt), u.ServicePrincipal)
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("user %q (id %q): %w", u.UserName, u.ID, store.ErrExists)
		}
		return err
	})
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
	return s.identityTx(ctx, "update user", func(tx pgx.Tx) error {
		return guardAdmins(ctx, tx, func() error { return updateUser(ctx, tx, u) })
	})
}

// EditUser implements store.Identities.
func (s *Store) EditUser(ctx context.Context, id string, edit func(*store.User) error) (store.User, error) {
	var out store.User
	err := s.identityTx(ctx, "edit user", func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user id %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := edit(&u); err != nil {
			return err
		}
		u.ID = id
		out = u
		return guardAdmins(ctx, tx, func() error { return updateUser(ctx, tx, u) })
	})
	if err != nil {
		return store.User{}, err
	}
	out.CreatedAt = norm(out.CreatedAt)
	return out, nil
}

func updateUser(ctx context.Context, tx pgx.Tx, u store.User) error {
	if u.UserName == "" {
		return errors.New("user name must not be empty")
	}
	var old string
	err := tx.QueryRow(ctx, `SELECT user_name FROM users WHERE id = $1`, u.ID).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("user id %q: %w", u.ID, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if old != u.UserName {
		if err := nameFree(ctx, tx, u.UserName); err != nil {
			return err
		}
		if err := renameACLs(ctx, tx, old, u.UserName); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE users SET user_name = $2, display_name = $3, active = $4, created_at = $5, service_principal = $6 WHERE id = $1`,
		u.ID, u.UserName, u.DisplayName, u.Active, ts(u.CreatedAt), u.ServicePrincipal)
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("user %q: %w", u.UserName, store.ErrExists)
	}
	return err
}

// DeleteUser implements store.Identities.
func (s *Store) DeleteUser(ctx context.Context, id string) (int, error) {
	var acls int
	err := s.identityTx(ctx, "delete user", func(tx pgx.Tx) error {
		return guardAdmins(ctx, tx, func() error {
			var name string
			err := tx.QueryRow(ctx, `DELETE FROM users WHERE id = $1 RETURNING user_name`, id).Scan(&name)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("user id %q: %w", id, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE user_id = $1`, id); err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, `UPDATE groups SET members = array_remove(members, $1) WHERE members @> ARRAY[$1]::text[]`, id); err != nil {
				return err
			}
			acls, err = deleteACLsOf(ctx, tx, name)
			return err
		})
	})
	return acls, err
}

// identityTx runs fn in a transaction holding the schema's identity lock:
// writes to users and groups are rare, and taking them one at a time across
// replicas makes the checks that span rows (the shared namespace of user
// and group names, the admins group's last active member) hold.
func (s *Store) identityTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	return s.tx(ctx, what, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "hush/identities"); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return fn(tx)
	})
}

// nameFree fails with ErrExists if a user or a group is named name: both
// are ACL principals, so they share one namespace.
func nameFree(ctx context.Context, tx pgx.Tx, name string) error {
	var kind string
	err := tx.QueryRow(ctx, `SELECT 'user' FROM users WHERE user_name = $1
		UNION ALL SELECT 'group' FROM groups WHERE display_name = $1 LIMIT 1`, name).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s %q: %w", kind, name, store.ErrExists)
}

// activeAdmins counts the active users in the group store.AdminGroup.
func activeAdmins(ctx context.Context, tx pgx.Tx) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM groups g JOIN users u ON u.id = ANY(g.members)
		WHERE g.display_name = $1 AND u.active`, store.AdminGroup).Scan(&n)
	return n, err
}

// guardAdmins runs write and fails with store.ErrLastAdmin (so the
// transaction rolls back) if it left the admins group, which had an active
// member, without one. The caller holds the identity lock.
func guardAdmins(ctx context.Context, tx pgx.Tx, write func() error) error {
	before, err := activeAdmins(ctx, tx)
	if err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	if before == 0 {
		return nil
	}
	after, err := activeAdmins(ctx, tx)
	if err != nil {
		return err
	}
	if after == 0 {
		return store.ErrLastAdmin
	}
	return nil
}

// renameACLs moves the ACLs of principal from to principal to, on every
// scope (replacing any stale ACL of to there), so a renamed user or group
// keeps its access and a new principal given the old name gets none.
func renameACLs(ctx context.Context, tx pgx.Tx, from, to string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM acls WHERE principal = $2
		AND scope_key IN (SELECT scope_key FROM acls WHERE principal = $1)`, from, to); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE acls SET principal = $2 WHERE principal = $1`, from, to)
	return err
}

// deleteACLsOf removes the principal's ACL on every scope and returns how many there were.
func deleteACLsOf(ctx context.Context, tx pgx.Tx, principal string) (int, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM acls WHERE principal = $1`, principal)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

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

// norm is a time as the store gives it back: UTC, microseconds, zero kept.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond).UTC()
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
	return s.identityTx(ctx, "create group", func(tx pgx.Tx) error {
		if err := nameFree(ctx, tx, g.DisplayName); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4)`,
			g.ID, g.DisplayName, members(g.Members), ts(g.CreatedAt))
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("group %q (id %q): %w", g.DisplayName, g.ID, store.ErrExists)
		}
		return err
	})
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
// ErrExists if the new display name belongs to another group or a user.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	return s.identityTx(ctx, "update group", func(tx pgx.Tx) error {
		return guardAdmins(ctx, tx, func() error { return updateGroup(ctx, tx, g) })
	})
}

// EditGroup implements store.Identities.
func (s *Store) EditGroup(ctx context.Context, id string, edit func(*store.Group) error) (store.Group, error) {
	var out store.Group
	err := s.identityTx(ctx, "edit group", func(tx pgx.Tx) error {
		g, err := scanGroup(tx.QueryRow(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("group id %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := edit(&g); err != nil {
			return err
		}
		g.ID = id
		g.Members = members(g.Members)
		out = g
		return guardAdmins(ctx, tx, func() error { return updateGroup(ctx, tx, g) })
	})
	if err != nil {
		return store.Group{}, err
	}
	out.CreatedAt = norm(out.CreatedAt)
	return out, nil
}

func updateGroup(ctx context.Context, tx pgx.Tx, g store.Group) error {
	if g.DisplayName == "" {
		return errors.New("group display name must not be empty")
	}
	var old string
	err := tx.QueryRow(ctx, `SELECT display_name FROM groups WHERE id = $1`, g.ID).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("group id %q: %w", g.ID, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if old != g.DisplayName {
		if err := nameFree(ctx, tx, g.DisplayName); err != nil {
			return err
		}
		if err := renameACLs(ctx, tx, old, g.DisplayName); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE groups SET display_name = $2, members = $3, created_at = $4 WHERE id = $1`,
		g.ID, g.DisplayName, members(g.Members), ts(g.CreatedAt))
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("group %q: %w", g.DisplayName, store.ErrExists)
	}
	return err
}

// DeleteGroup implements store.Identities.
func (s *Store) DeleteGroup(ctx context.Context, id string) (int, error) {
	var acls int
	err := s.identityTx(ctx, "delete group", func(tx pgx.Tx) error {
		return guardAdmins(ctx, tx, func() error {
			var name string
			err := tx.QueryRow(ctx, `DELETE FROM groups WHERE id = $1 RETURNING display_name`, id).Scan(&name)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("group id %q: %w", id, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			acls, err = deleteACLsOf(ctx, tx, name)
			return err
		})
	})
	return acls, err
}

// GroupsOf implements store.Identities; groups come ordered by display name.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]store.Group, error) {
	return s.groups(ctx, "groups of user", `SELECT `+groupCols+` FROM groups WHERE members @> ARRAY[$1]::text[] ORDER BY display_name`, userID)
}
