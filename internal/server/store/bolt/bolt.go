// Package bolt is the embedded store of hush serve: everything in one bbolt
// file (FileName in the data directory). Every write is one bbolt update
// transaction, fsynced before it returns, so an acknowledged write survives a
// crash; limits are checked inside the same transaction, so they hold under
// concurrency (bbolt serialises writers).
//
// Layout: one bucket per entity, keyed by its identity, with JSON records;
// secondary index buckets map user names, group names and token hashes to
// IDs; secrets and ACLs live in one nested bucket per scope, so deleting a
// scope drops them with it; audit events are keyed by time and sequence.
// Timestamps are kept at microsecond precision, in UTC.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// FileName is the name of the database file in hush serve's data directory.
const FileName = "hush.db"

// DefaultLockTimeout is how long Open waits for another process to release the file.
const DefaultLockTimeout = 5 * time.Second

var (
	bScopes      = []byte("scopes")  // scope key -> scopeRec
	bSecrets     = []byte("secrets") // scope key -> bucket{key -> secretRec}
	bACLs        = []byte("acls")    // scope key -> bucket{principal -> permission}
	bUsers       = []byte("users")   // id -> userRec
	bUsersByName = []byte("users_by_name")
	bGroups      = []byte("groups") // id -> groupRec
	bGroupsByNm  = []byte("groups_by_name")
	bTokens      = []byte("tokens") // id -> tokenRec
	bTokensByH   = []byte("tokens_by_hash")
	bAudit       = []byte("audit") // time(8) | seq(8) -> eventRec
	bMeta        = []byte("meta")  // name -> value
)

var allBuckets = [][]byte{bScopes, bSecrets, bACLs, bUsers, bUsersByName, bGroups, bGroupsByNm, bTokens, bTokensByH, bAudit, bMeta}

// Store is the bbolt-backed store.Store.
type Store struct {
	db *bbolt.DB
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for the file lock held by another
// process (default DefaultLockTimeout; 0 waits forever).
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// Open opens or creates the database file at path (mode 0600, its directory
// 0700 if created). Only one process can hold it open at a time.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open bolt store: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open bolt store %s: the file is locked by another process (is another hush serve using this data directory?)", path)
		}
		return nil, fmt.Errorf("open bolt store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open bolt store %s: create buckets: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) update(ctx context.Context, what string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (s *Store) view(ctx context.Context, what string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ts normalises a time to what the stores keep: UTC, microseconds.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

func put(b *bbolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func get(b *bbolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// ---- scopes, secrets, ACLs ----

type scopeRec struct {
	Name      string              `json:"name"`
	Backend   secrets.BackendType `json:"backend"`
	FilesPath string              `json:"files_path,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}

func (r scopeRec) scope() secrets.Scope {
	return secrets.Scope{Name: r.Name, Backend: r.Backend, FilesPath: r.FilesPath, CreatedAt: r.CreatedAt.UTC()}
}

type secretRec struct {
	Sealed    []byte    `json:"sealed"`
	UpdatedAt time.Time `json:"updated_at"`
}

func scopeNotFound(name string) error {
	return fmt.Errorf("scope %q: %w", name, store.ErrNotFound)
}

// scopeBuckets returns the nested secrets and ACL buckets of an existing scope.
func scopeBuckets(tx *bbolt.Tx, name string) (sk []byte, sec, acl *bbolt.Bucket, err error) {
	sk = []byte(secrets.ScopeKey(name))
	if tx.Bucket(bScopes).Get(sk) == nil {
		return nil, nil, nil, scopeNotFound(name)
	}
	sec = tx.Bucket(bSecrets).Bucket(sk)
	acl = tx.Bucket(bACLs).Bucket(sk)
	if sec == nil || acl == nil {
		return nil, nil, nil, fmt.Errorf("scope %q: nested buckets missing (corrupt store)", name)
	}
	return sk, sec, acl, nil
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

// CreateScope implements store.Scopes.
func (s *Store) CreateScope(ctx context.Context, sc secrets.Scope, acls []secrets.ACL, maxScopes int) error {
	for _, a := range acls {
		if err := checkACL(a); err != nil {
			return fmt.Errorf("create scope: %w", err)
		}
	}
	return s.update(ctx, "create scope", func(tx *bbolt.Tx) error {
		sk := []byte(secrets.ScopeKey(sc.Name))
		if len(sk) == 0 {
			return errors.New("scope name is empty")
		}
		scopes := tx.Bucket(bScopes)
		if scopes.Get(sk) != nil {
			return fmt.Errorf("scope %q: %w", sc.Name, store.ErrExists)
		}
		if maxScopes > 0 && scopes.Stats().KeyN >= maxScopes {
			return fmt.Errorf("%d scopes exist: %w", maxScopes, store.ErrLimit)
		}
		rec := scopeRec{Name: sc.Name, Backend: sc.Backend, FilesPath: sc.FilesPath, CreatedAt: ts(sc.CreatedAt)}
		if err := put(scopes, sk, rec); err != nil {
			return err
		}
		// Leftovers of an earlier scope of this name cannot exist (DeleteScope
		// drops them in its transaction), but never let them leak into a new one.
		for _, parent := range [][]byte{bSecrets, bACLs} {
			p := tx.Bucket(parent)
			if p.Bucket(sk) != nil {
				if err := p.DeleteBucket(sk); err != nil {
					return err
				}
			}
			if _, err := p.CreateBucket(sk); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bACLs).Bucket(sk)
		for _, a := range acls {
			if err := ab.Put([]byte(a.Principal), []byte(a.Permission.String())); err != nil {
				return fmt.Errorf("acl for %q: %w", a.Principal, err)
			}
		}
		return nil
	})
}

// GetScope implements store.Scopes.
func (s *Store) GetScope(ctx context.Context, name string) (secrets.Scope, error) {
	var rec scopeRec
	err := s.view(ctx, "get scope", func(tx *bbolt.Tx) error {
		ok, err := get(tx.Bucket(bScopes), []byte(secrets.ScopeKey(name)), &rec)
		if err == nil && !ok {
			err = scopeNotFound(name)
		}
		return err
	})
	if err != nil {
		return secrets.Scope{}, err
	}
	return rec.scope(), nil
}

// ListScopes implements store.Scopes.
func (s *Store) ListScopes(ctx context.Context) ([]secrets.Scope, error) {
	out := []secrets.Scope{}
	err := s.view(ctx, "list scopes", func(tx *bbolt.Tx) error {
		return tx.Bucket(bScopes).ForEach(func(_, v []byte) error {
			var rec scopeRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.scope())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteScope implements store.Scopes.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	return s.update(ctx, "delete scope", func(tx *bbolt.Tx) error {
		sk := []byte(secrets.ScopeKey(name))
		scopes := tx.Bucket(bScopes)
		if scopes.Get(sk) == nil {
			return scopeNotFound(name)
		}
		if err := scopes.Delete(sk); err != nil {
			return err
		}
		for _, parent := range [][]byte{bSecrets, bACLs} {
			if err := tx.Bucket(parent).DeleteBucket(sk); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
		}
		return nil
	})
}

// PutSecret implements store.Scopes.
func (s *Store) PutSecret(ctx context.Context, sec store.Secret, maxSecrets int) error {
	return s.update(ctx, "put secret", func(tx *bbolt.Tx) error {
		_, b, _, err := scopeBuckets(tx, sec.Scope)
		if err != nil {
			return err
		}
		k := []byte(sec.Key)
		if len(k) == 0 {
			return errors.New("secret key is empty")
		}
		if b.Get(k) == nil && maxSecrets > 0 && b.Stats().KeyN >= maxSecrets {
			return fmt.Errorf("scope %q has %d secrets: %w", sec.Scope, maxSecrets, store.ErrLimit)
		}
		return put(b, k, secretRec{Sealed: sec.Sealed, UpdatedAt: ts(sec.UpdatedAt)})
	})
}

func secretNotFound(scope, key string) error {
	return fmt.Errorf("secret %q in scope %q: %w", key, scope, store.ErrNotFound)
}

// GetSecret implements store.Scopes.
func (s *Store) GetSecret(ctx context.Context, scope, key string) (store.Secret, error) {
	var out store.Secret
	err := s.view(ctx, "get secret", func(tx *bbolt.Tx) error {
		sk, b, _, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		var rec secretRec
		ok, err := get(b, []byte(key), &rec)
		if err != nil {
			return err
		}
		if !ok {
			return secretNotFound(scope, key)
		}
		out = store.Secret{Scope: string(sk), Key: key, Sealed: rec.Sealed, UpdatedAt: rec.UpdatedAt.UTC()}
		return nil
	})
	return out, err
}

// ListSecrets implements store.Scopes.
func (s *Store) ListSecrets(ctx context.Context, scope string) ([]secrets.SecretMeta, error) {
	out := []secrets.SecretMeta{}
	err := s.view(ctx, "list secrets", func(tx *bbolt.Tx) error {
		_, b, _, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var rec secretRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, secrets.SecretMeta{Key: string(k), UpdatedAt: rec.UpdatedAt.UTC()})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSecret implements store.Scopes.
func (s *Store) DeleteSecret(ctx context.Context, scope, key string) error {
	return s.update(ctx, "delete secret", func(tx *bbolt.Tx) error {
		_, b, _, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		if b.Get([]byte(key)) == nil {
			return secretNotFound(scope, key)
		}
		return b.Delete([]byte(key))
	})
}

func aclNotFound(scope, principal string) error {
	return fmt.Errorf("acl for %q on scope %q: %w", principal, scope, store.ErrNotFound)
}

// PutACL implements store.Scopes.
func (s *Store) PutACL(ctx context.Context, scope string, acl secrets.ACL) error {
	return s.update(ctx, "put acl", func(tx *bbolt.Tx) error {
		_, _, b, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		if err := checkACL(acl); err != nil {
			return err
		}
		return b.Put([]byte(acl.Principal), []byte(acl.Permission.String()))
	})
}

func parseACL(principal, perm []byte) (secrets.ACL, error) {
	p, err := secrets.ParsePermission(string(perm))
	if err != nil {
		return secrets.ACL{}, fmt.Errorf("acl for %q: %w", principal, err)
	}
	return secrets.ACL{Principal: string(principal), Permission: p}, nil
}

// GetACL implements store.Scopes.
func (s *Store) GetACL(ctx context.Context, scope, principal string) (secrets.ACL, error) {
	var out secrets.ACL
	err := s.view(ctx, "get acl", func(tx *bbolt.Tx) error {
		_, _, b, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		v := b.Get([]byte(principal))
		if v == nil {
			return aclNotFound(scope, principal)
		}
		out, err = parseACL([]byte(principal), v)
		return err
	})
	return out, err
}

// ListACLs implements store.Scopes.
func (s *Store) ListACLs(ctx context.Context, scope string) ([]secrets.ACL, error) {
	out := []secrets.ACL{}
	err := s.view(ctx, "list acls", func(tx *bbolt.Tx) error {
		_, _, b, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			a, err := parseACL(k, v)
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteACL implements store.Scopes.
func (s *Store) DeleteACL(ctx context.Context, scope, principal string) error {
	return s.update(ctx, "delete acl", func(tx *bbolt.Tx) error {
		_, _, b, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		if b.Get([]byte(principal)) == nil {
			return aclNotFound(scope, principal)
		}
		return b.Delete([]byte(principal))
	})
}

// ---- users and groups ----

type userRec struct {
	ID          string    `json:"id"`
	UserName    string    `json:"user_name"`
	DisplayName string    `json:"display_name,omitempty"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
}

func (r userRec) user() store.User {
	return store.User{ID: r.ID, UserName: r.UserName, DisplayName: r.DisplayName, Active: r.Active, CreatedAt: r.CreatedAt.UTC()}
}

func toUserRec(u store.User) userRec {
	return userRec{ID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, CreatedAt: ts(u.CreatedAt)}
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
		if byName.Get([]byte(u.UserName)) != nil {
			return fmt.Errorf("user %q: %w", u.UserName, store.ErrExists)
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
		old, err := getUser(tx, u.ID)
		if err != nil {
			return err
		}
		if u.UserName == "" {
			return errors.New("user name must not be empty")
		}
		byName := tx.Bucket(bUsersByName)
		if u.UserName != old.UserName {
			if byName.Get([]byte(u.UserName)) != nil {
				return fmt.Errorf("user %q: %w", u.UserName, store.ErrExists)
			}
			if err := byName.Delete([]byte(old.UserName)); err != nil {
				return err
			}
			if err := byName.Put([]byte(u.UserName), []byte(u.ID)); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bUsers), []byte(u.ID), toUserRec(u))
	})
}

// DeleteUser implements store.Identities.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.update(ctx, "delete user", func(tx *bbolt.Tx) error {
		rec, err := getUser(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bUsers).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bUsersByName).Delete([]byte(rec.UserName)); err != nil {
			return err
		}
		// Tokens of the user.
		tokens, byHash := tx.Bucket(bTokens), tx.Bucket(bTokensByH)
		var doomed []tokenRec
		err = tokens.ForEach(func(_, v []byte) error {
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
		// Group memberships.
		groups := tx.Bucket(bGroups)
		var changed []groupRec
		err = groups.ForEach(func(_, v []byte) error {
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
	})
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
		if byName.Get([]byte(g.DisplayName)) != nil {
			return fmt.Errorf("group %q: %w", g.DisplayName, store.ErrExists)
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
// ErrExists if the new display name belongs to another group.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	return s.update(ctx, "update group", func(tx *bbolt.Tx) error {
		old, err := getGroup(tx, g.ID)
		if err != nil {
			return err
		}
		if g.DisplayName == "" {
			return errors.New("group display name must not be empty")
		}
		byName := tx.Bucket(bGroupsByNm)
		if g.DisplayName != old.DisplayName {
			if byName.Get([]byte(g.DisplayName)) != nil {
				return fmt.Errorf("group %q: %w", g.DisplayName, store.ErrExists)
			}
			if err := byName.Delete([]byte(old.DisplayName)); err != nil {
				return err
			}
			if err := byName.Put([]byte(g.DisplayName), []byte(g.ID)); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bGroups), []byte(g.ID), toGroupRec(g))
	})
}

// DeleteGroup implements store.Identities.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.update(ctx, "delete group", func(tx *bbolt.Tx) error {
		rec, err := getGroup(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bGroups).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bGroupsByNm).Delete([]byte(rec.DisplayName))
	})
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

// ---- tokens ----

type tokenRec struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Hash      []byte    `json:"hash"`
	Comment   string    `json:"comment,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

func (r tokenRec) token() store.Token {
	return store.Token{ID: r.ID, UserID: r.UserID, Hash: r.Hash, Comment: r.Comment,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: ts(r.ExpiresAt), CreatedBy: r.CreatedBy}
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	return s.update(ctx, "create token", func(tx *bbolt.Tx) error {
		if t.ID == "" || len(t.Hash) == 0 {
			return errors.New("token id and hash must not be empty")
		}
		tokens, byHash := tx.Bucket(bTokens), tx.Bucket(bTokensByH)
		if tokens.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token id %q: %w", t.ID, store.ErrExists)
		}
		if byHash.Get(t.Hash) != nil {
			return fmt.Errorf("token hash: %w", store.ErrExists)
		}
		rec := tokenRec{ID: t.ID, UserID: t.UserID, Hash: bytes.Clone(t.Hash), Comment: t.Comment,
			CreatedAt: ts(t.CreatedAt), ExpiresAt: ts(t.ExpiresAt), CreatedBy: t.CreatedBy}
		if err := put(tokens, []byte(t.ID), rec); err != nil {
			return err
		}
		return byHash.Put(t.Hash, []byte(t.ID))
	})
}

func getToken(tx *bbolt.Tx, id string) (tokenRec, error) {
	var rec tokenRec
	ok, err := get(tx.Bucket(bTokens), []byte(id), &rec)
	if err == nil && !ok {
		err = fmt.Errorf("token id %q: %w", id, store.ErrNotFound)
	}
	return rec, err
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var rec tokenRec
	err := s.view(ctx, "token by hash", func(tx *bbolt.Tx) (err error) {
		if len(hash) == 0 {
			return fmt.Errorf("empty token hash: %w", store.ErrNotFound)
		}
		id := tx.Bucket(bTokensByH).Get(hash)
		if id == nil {
			return fmt.Errorf("token: %w", store.ErrNotFound)
		}
		rec, err = getToken(tx, string(id))
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return rec.token(), nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	var rec tokenRec
	err := s.view(ctx, "get token", func(tx *bbolt.Tx) (err error) {
		rec, err = getToken(tx, id)
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return rec.token(), nil
}

// ListTokens implements store.Tokens, ordered by creation time, then ID.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	out := []store.Token{}
	err := s.view(ctx, "list tokens", func(tx *bbolt.Tx) error {
		return tx.Bucket(bTokens).ForEach(func(_, v []byte) error {
			var rec tokenRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if userID == "" || rec.UserID == userID {
				out = append(out, rec.token())
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b store.Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.update(ctx, "delete token", func(tx *bbolt.Tx) error {
		rec, err := getToken(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bTokens).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bTokensByH).Delete(rec.Hash)
	})
}

// ---- audit ----

type eventRec struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor,omitempty"`
	Action    string    `json:"action"`
	Scope     string    `json:"scope,omitempty"`
	Key       string    `json:"key,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	Allowed   bool      `json:"allowed"`
	ErrorCode string    `json:"error_code,omitempty"`
}

// timeKey encodes t so that byte order is time order (the sign bit flipped
// makes negative Unix times sort first).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMicro())^(1<<63))
}

// AppendEvent implements store.Audit.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	return s.update(ctx, "append audit event", func(tx *bbolt.Tx) error {
		return appendEvent(tx.Bucket(bAudit), e)
	})
}

// AppendEvents appends events in order in one transaction, so the batch
// costs one fsync and is stored entirely or not at all. The server uses it
// for group commit.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.update(ctx, "append audit events", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAudit)
		for _, e := range events {
			if err := appendEvent(b, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendEvent stores e under time|sequence, so events of the same
// microsecond keep their append order.
func appendEvent(b *bbolt.Bucket, e store.Event) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	t := ts(e.Time)
	k := binary.BigEndian.AppendUint64(timeKey(t), seq)
	return put(b, k, eventRec{Time: t, Actor: e.Actor, Action: e.Action, Scope: e.Scope, Key: e.Key,
		Remote: e.Remote, Allowed: e.Allowed, ErrorCode: e.ErrorCode})
}

func (r eventRec) event() store.Event {
	return store.Event{Time: r.Time.UTC(), Actor: r.Actor, Action: r.Action, Scope: r.Scope, Key: r.Key,
		Remote: r.Remote, Allowed: r.Allowed, ErrorCode: r.ErrorCode}
}

// ListEvents implements store.Audit. Scope compares case-insensitively,
// Actor exactly; Since is inclusive.
func (s *Store) ListEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error) {
	out := []store.Event{}
	match := func(r eventRec) bool {
		return (f.Scope == "" || secrets.ScopeKey(r.Scope) == secrets.ScopeKey(f.Scope)) &&
			(f.Actor == "" || r.Actor == f.Actor)
	}
	var lo []byte
	if !f.Since.IsZero() {
		lo = timeKey(ts(f.Since))
	}
	err := s.view(ctx, "list audit events", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		if f.Limit > 0 {
			// Newest first from the end, stop at Limit or at Since, then reverse.
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if lo != nil && bytes.Compare(k[:8], lo) < 0 {
					break
				}
				var r eventRec
				if err := json.Unmarshal(v, &r); err != nil {
					return err
				}
				if match(r) {
					out = append(out, r.event())
					if len(out) == f.Limit {
						break
					}
				}
			}
			slices.Reverse(out)
			return nil
		}
		var k, v []byte
		if lo != nil {
			k, v = c.Seek(lo)
		} else {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			var r eventRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if match(r) {
				out = append(out, r.event())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ---- meta ----

// InitMeta implements store.Meta.
func (s *Store) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	var out []byte
	err := s.update(ctx, "init meta "+name, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bMeta)
		if v := b.Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
			return nil
		}
		out = bytes.Clone(value)
		return b.Put([]byte(name), value)
	})
	return out, err
}

// GetMeta implements store.Meta.
func (s *Store) GetMeta(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, "get meta "+name, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bMeta).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("meta %q: %w", name, store.ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// PutMeta implements store.Meta.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) error {
	return s.update(ctx, "put meta "+name, func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put([]byte(name), value)
	})
}
