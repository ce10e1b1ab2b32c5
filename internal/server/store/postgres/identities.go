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
