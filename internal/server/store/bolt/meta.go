package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/server/store"
)

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
