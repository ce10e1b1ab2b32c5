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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"

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
