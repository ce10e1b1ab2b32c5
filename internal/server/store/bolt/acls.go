package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

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

// GrantACL implements store.Scopes.
func (s *Store) GrantACL(ctx context.Context, scope string, acl secrets.ACL) error {
	return s.update(ctx, "grant acl", func(tx *bbolt.Tx) error {
		_, _, b, err := scopeBuckets(tx, scope)
		if err != nil {
			return err
		}
		if err := checkACL(acl); err != nil {
			return err
		}
		p := []byte(acl.Principal)
		if acl.Principal != store.AllUsersGroup && acl.Principal != store.AdminGroup &&
			tx.Bucket(bUsersByName).Get(p) == nil && tx.Bucket(bGroupsByNm).Get(p) == nil {
			return fmt.Errorf("acl principal %q: %w", acl.Principal, store.ErrNoPrincipal)
		}
		return b.Put(p, []byte(acl.Permission.String()))
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
