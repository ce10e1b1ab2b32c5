package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/server/store"
)

type userRec struct {
	ID          string    `json:"id"`
	UserName    string    `json:"user_name"`
	DisplayName string    `json:"display_name,omitempty"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	SP          bool      `json:"service_principal,omitempty"`
}

func (r userRec) user() store.User {
	return store.User{ID: r.ID, UserName: r.UserName, DisplayName: r.DisplayName, Active: r.Active, CreatedAt: r.CreatedAt.UTC(), ServicePrincipal: r.SP}
}

func toUserRec(u store.User) userRec {
	return userRec{ID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, CreatedAt: ts(u.CreatedAt), SP: u.ServicePrincipal}
}

type groupRec struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Members     []string  `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
}

func (r groupRec) group() store.Group {
	m := r.Members
	if m == nil {
		m = []string{}
	}
	return store.Group{ID: r.ID, DisplayName: r.DisplayName, Members: m, CreatedAt: r.CreatedAt.UTC()}
}

func toGroupRec(g store.Group) groupRec {
	m := slices.Clone(g.Members)
	if m == nil {
		m = []string{}
	}
	return groupRec{ID: g.ID, DisplayName: g.DisplayName, Members: m, CreatedAt: ts(g.CreatedAt)}
}

// CreateUser implements store.Identities.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.update(ctx, "create user", func(tx *bbolt.Tx) error {
		if u.ID == "" || u.UserName == "" {
			return errors.New("user id and user name must not be empty")
		}
		users, byName := tx.Bucket(bUsers), tx.Bucket(bUsersByName)
		if users.Get([]byte(u.ID)) != nil {
			return fmt.Errorf("user id %q: %w", u.ID, store.ErrExists)
		}
		if err := nameFree(tx, u.UserName); err != nil {
			return err
		}
		if err := put(users, []byte(u.ID), toUserRec(u)); err != nil {
			return err
		}
		return byName.Put([]byte(u.UserName), []byte(u.ID))
	})
}

func getUser(tx *bbolt.Tx, id string) (userRec, error) {
	var rec userRec
	ok, err := get(tx.Bucket(bUsers), []byte(id), &rec)
	if err == nil && !ok {
		err = fmt.Errorf("user id %q: %w", id, store.ErrNotFound)
	}
	return rec, err
}

// GetUser implements store.Identities.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	var rec userRec
	err := s.view(ctx, "get user", func(tx *bbolt.Tx) (err error) {
		rec, err = getUser(tx, id)
		return err
	})
	return rec.user(), err
}

// GetUserByName implements store.Identities.
func (s *Store) GetUserByName(ctx context.Context, userName string) (store.User, error) {
	var rec userRec
	err := s.view(ctx, "get user by name", func(tx *bbolt.Tx) (err error) {
		id := tx.Bucket(bUsersByName).Get([]byte(userName))
		if id == nil {
			return fmt.Errorf("user %q: %w", userName, store.ErrNotFound)
		}
		rec, err = getUser(tx, string(id))
		return err
	})
	return rec.user(), err
}

// ListUsers implements store.Identities.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	out := []store.User{}
	err := s.view(ctx, "list users", func(tx *bbolt.Tx) error {
		return tx.Bucket(bUsersByName).ForEach(func(_, id []byte) error {
			rec, err := getUser(tx, string(id))
			if err != nil {
				return err
			}
			out = append(out, rec.user())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateUser implements store.Identities.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return s.update(ctx, "update user", func(tx *bbolt.Tx) error {
		return guardAdmins(tx, func() error { return updateUser(tx, u) })
	})
}

// EditUser implements store.Identities.
func (s *Store) EditUser(ctx context.Context, id string, edit func(*store.User) error) (store.User, error) {
	var out store.User
	err := s.update(ctx, "edit user", func(tx *bbolt.Tx) error {
		rec, err := getUser(tx, id)
		if err != nil {
			return err
		}
		out = rec.user()
		if err := edit(&out); err != nil {
			return err
		}
		out.ID = id
		return guardAdmins(tx, func() error { return updateUser(tx, out) })
	})
	if err != nil {
		return store.User{}, err
	}
	return toUserRec(out).user(), nil
}

// updateUser overwrites the user with u.ID, keeping the name index.
func updateUser(tx *bbolt.Tx, u store.User) error {
	old, err := getUser(tx, u.ID)
	if err != nil {
		return err
	}
	if u.UserName == "" {
		return errors.New("user name must not be empty")
	}
	byName := tx.Bucket(bUsersByName)
	if u.UserName != old.UserName {
		if err := nameFree(tx, u.UserName); err != nil {
			return err
		}
		if err := byName.Delete([]byte(old.UserName)); err != nil {
			return err
		}
		if err := byName.Put([]byte(u.UserName), []byte(u.ID)); err != nil {
			return err
		}
		if err := renameACLs(tx, old.UserName, u.UserName); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bUsers), []byte(u.ID), toUserRec(u))
}

// nameFree fails with ErrExists if a user or a group is named name: both
// are ACL principals, so they share one namespace.
func nameFree(tx *bbolt.Tx, name string) error {
	if tx.Bucket(bUsersByName).Get([]byte(name)) != nil {
		return fmt.Errorf("user %q: %w", name, store.ErrExists)
	}
	if tx.Bucket(bGroupsByNm).Get([]byte(name)) != nil {
		return fmt.Errorf("group %q: %w", name, store.ErrExists)
	}
	return nil
}

// activeAdmins counts the active users in the group store.AdminGroup.
func activeAdmins(tx *bbolt.Tx) (int, error) {
	id := tx.Bucket(bGroupsByNm).Get([]byte(store.AdminGroup))
	if id == nil {
		return 0, nil
	}
	g, err := getGroup(tx, string(id))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range g.Members {
		var u userRec
		ok, err := get(tx.Bucket(bUsers), []byte(m), &u)
		if err != nil {
			return 0, err
		}
		if ok && u.Active {
			n++
		}
	}
	return n, nil
}

// guardAdmins runs write and fails with store.ErrLastAdmin (rolling the
// transaction back) if it left the admins group, which had an active
// member, without one.
func guardAdmins(tx *bbolt.Tx, write func() error) error {
	before, err := activeAdmins(tx)
	if err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	if before == 0 {
		return nil
	}
	after, err := activeAdmins(tx)
	if err != nil {
		return err
	}
	if after == 0 {
		return store.ErrLastAdmin
	}
	return nil
}

// DeleteUser implements store.Identities.
func (s *Store) DeleteUser(ctx context.Context, id string) (int, error) {
	var acls int
	err := s.update(ctx, "delete user", func(tx *bbolt.Tx) error {
		return guardAdmins(tx, func() (err error) {
			acls, err = deleteUser(tx, id)
			return err
		})
	})
	return acls, err
}

func deleteUser(tx *bbolt.Tx, id string) (int, error) {
	rec, err := getUser(tx, id)
	if err != nil {
		return 0, err
	}
	if err := tx.Bucket(bUsers).Delete([]byte(id)); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bUsersByName).Delete([]byte(rec.UserName)); err != nil {
		return 0, err
	}
	if err := deleteTokensOf(tx, id); err != nil {
		return 0, err
	}
	if err := dropMember(tx, id); err != nil {
		return 0, err
	}
	return deleteACLsOf(tx, rec.UserName)
}

func deleteTokensOf(tx *bbolt.Tx, id string) error {
	tokens, byHash := tx.Bucket(bTokens), tx.Bucket(bTokensByH)
	var doomed []tokenRec
	err := tokens.ForEach(func(_, v []byte) error {
		var t tokenRec
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		if t.UserID == id {
			doomed = append(doomed, t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range doomed {
		if err := tokens.Delete([]byte(t.ID)); err != nil {
			return err
		}
		if err := byHash.Delete(t.Hash); err != nil {
			return err
		}
	}
	return nil
}

// dropMember removes a user ID from every group that lists it.
func dropMember(tx *bbolt.Tx, id string) error {
	groups := tx.Bucket(bGroups)
	var changed []groupRec
	err := groups.ForEach(func(_, v []byte) error {
		var g groupRec
		if err := json.Unmarshal(v, &g); err != nil {
			return err
		}
		if slices.Contains(g.Members, id) {
			g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == id })
			changed = append(changed, g)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, g := range changed {
		if err := put(groups, []byte(g.ID), g); err != nil {
			return err
		}
	}
	return nil
}

// renameACLs moves the ACLs of principal from to principal to, on every
// scope, so a renamed user or group keeps its access and a new principal
// given the old name gets none.
func renameACLs(tx *bbolt.Tx, from, to string) error {
	acls := tx.Bucket(bACLs)
	var scopes [][]byte
	err := acls.ForEach(func(k, v []byte) error {
		if v == nil && acls.Bucket(k).Get([]byte(from)) != nil {
			scopes = append(scopes, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sk := range scopes {
		b := acls.Bucket(sk)
		perm := slices.Clone(b.Get([]byte(from)))
		if err := b.Delete([]byte(from)); err != nil {
			return err
		}
		if err := b.Put([]byte(to), perm); err != nil {
			return err
		}
	}
	return nil
}

// deleteACLsOf removes the principal's ACL on every scope and returns how many there were.
func deleteACLsOf(tx *bbolt.Tx, principal string) (int, error) {
	acls := tx.Bucket(bACLs)
	var scopes [][]byte
	err := acls.ForEach(func(k, v []byte) error {
		if v == nil && acls.Bucket(k).Get([]byte(principal)) != nil {
			scopes = append(scopes, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, sk := range scopes {
		if err := acls.Bucket(sk).Delete([]byte(principal)); err != nil {
			return 0, err
		}
	}
	return len(scopes), nil
}

// CreateGroup implements store.Identities.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.update(ctx, "create group", func(tx *bbolt.Tx) error {
		if g.ID == "" || g.DisplayName == "" {
			return errors.New("group id and display name must not be empty")
		}
		groups, byName := tx.Bucket(bGroups), tx.Bucket(bGroupsByNm)
		if groups.Get([]byte(g.ID)) != nil {
			return fmt.Errorf("group id %q: %w", g.ID, store.ErrExists)
		}
		if err := nameFree(tx, g.DisplayName); err != nil {
			return err
		}
		if err := put(groups, []byte(g.ID), toGroupRec(g)); err != nil {
			return err
		}
		return byName.Put([]byte(g.DisplayName), []byte(g.ID))
	})
}

func getGroup(tx *bbolt.Tx, id string) (groupRec, error) {
	var rec groupRec
	ok, err := get(tx.Bucket(bGroups), []byte(id), &rec)
	if err == nil && !ok {
		err = fmt.Errorf("group id %q: %w", id, store.ErrNotFound)
	}
	return rec, err
}

// GetGroup implements store.Identities.
func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	var rec groupRec
	err := s.view(ctx, "get group", func(tx *bbolt.Tx) (err error) {
		rec, err = getGroup(tx, id)
		return err
	})
	return rec.group(), err
}

// GetGroupByName implements store.Identities.
func (s *Store) GetGroupByName(ctx context.Context, displayName string) (store.Group, error) {
	var rec groupRec
	err := s.view(ctx, "get group by name", func(tx *bbolt.Tx) (err error) {
		id := tx.Bucket(bGroupsByNm).Get([]byte(displayName))
		if id == nil {
			return fmt.Errorf("group %q: %w", displayName, store.ErrNotFound)
		}
		rec, err = getGroup(tx, string(id))
		return err
	})
	return rec.group(), err
}

// ListGroups implements store.Identities.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	out := []store.Group{}
	err := s.view(ctx, "list groups", func(tx *bbolt.Tx) error {
		return tx.Bucket(bGroupsByNm).ForEach(func(_, id []byte) error {
			rec, err := getGroup(tx, string(id))
			if err != nil {
				return err
			}
			out = append(out, rec.group())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateGroup implements store.Identities: ErrNotFound for an unknown ID,
// ErrExists if the new display name belongs to another group or a user.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	return s.update(ctx, "update group", func(tx *bbolt.Tx) error {
		return guardAdmins(tx, func() error { return updateGroup(tx, g) })
	})
}

// EditGroup implements store.Identities.
func (s *Store) EditGroup(ctx context.Context, id string, edit func(*store.Group) error) (store.Group, error) {
	var out store.Group
	err := s.update(ctx, "edit group", func(tx *bbolt.Tx) error {
		rec, err := getGroup(tx, id)
		if err != nil {
			return err
		}
		out = rec.group()
		if err := edit(&out); err != nil {
			return err
		}
		out.ID = id
		return guardAdmins(tx, func() error { return updateGroup(tx, out) })
	})
	if err != nil {
		return store.Group{}, err
	}
	return toGroupRec(out).group(), nil
}

func updateGroup(tx *bbolt.Tx, g store.Group) error {
	old, err := getGroup(tx, g.ID)
	if err != nil {
		return err
	}
	if g.DisplayName == "" {
		return errors.New("group display name must not be empty")
	}
	byName := tx.Bucket(bGroupsByNm)
	if g.DisplayName != old.DisplayName {
		if err := nameFree(tx, g.DisplayName); err != nil {
			return err
		}
		if err := byName.Delete([]byte(old.DisplayName)); err != nil {
			return err
		}
		if err := byName.Put([]byte(g.DisplayName), []byte(g.ID)); err != nil {
			return err
		}
		if err := renameACLs(tx, old.DisplayName, g.DisplayName); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bGroups), []byte(g.ID), toGroupRec(g))
}

// DeleteGroup implements store.Identities.
func (s *Store) DeleteGroup(ctx context.Context, id string) (int, error) {
	var acls int
	err := s.update(ctx, "delete group", func(tx *bbolt.Tx) error {
		return guardAdmins(tx, func() error {
			rec, err := getGroup(tx, id)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bGroups).Delete([]byte(id)); err != nil {
				return err
			}
			if err := tx.Bucket(bGroupsByNm).Delete([]byte(rec.DisplayName)); err != nil {
				return err
			}
			acls, err = deleteACLsOf(tx, rec.DisplayName)
			return err
		})
	})
	return acls, err
}

// GroupsOf implements store.Identities; groups come ordered by display name.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]store.Group, error) {
	out := []store.Group{}
	// Every authenticated request asks this, so groups that cannot list the
	// user are skipped without decoding: the record holds the member ID
	// exactly as json.Marshal writes it, so a record without that encoding
	// is not a match (one with it is still decoded and checked).
	quoted, err := json.Marshal(userID)
	if err != nil {
		return nil, fmt.Errorf("groups of user: %w", err)
	}
	err = s.view(ctx, "groups of user", func(tx *bbolt.Tx) error {
		groups := tx.Bucket(bGroups)
		return tx.Bucket(bGroupsByNm).ForEach(func(_, id []byte) error {
			if v := groups.Get(id); v != nil && !bytes.Contains(v, quoted) {
				return nil
			}
			rec, err := getGroup(tx, string(id))
			if err != nil {
				return err
			}
			if slices.Contains(rec.Members, userID) {
				out = append(out, rec.group())
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
