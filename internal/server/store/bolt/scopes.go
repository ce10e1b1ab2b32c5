package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

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
