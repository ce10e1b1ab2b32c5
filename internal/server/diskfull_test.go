package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

// fullStore wraps a store whose secret writes fail with err while full is set.
type fullStore struct {
	store.Store
	full atomic.Bool
	err  error
}

func (f *fullStore) PutSecret(ctx context.Context, s store.Secret, max int) error {
	if f.full.Load() {
		return fmt.Errorf("put secret: commit: %w", f.err)
	}
	return f.Store.PutSecret(ctx, s, max)
}

// Issue 13, item 11: a full disk (ENOSPC from the bolt file, SQLSTATE 53100
// from PostgreSQL) answers 503 TEMPORARILY_UNAVAILABLE, which clients
// retry, rather than 500; other failures stay 500.
func TestFullDiskIs503(t *testing.T) {
	for name, err := range map[string]error{
		"ENOSPC":            syscall.ENOSPC,
		"postgres 53100":    &pgconn.PgError{Code: "53100", Message: "could not extend file"},
		"other (stays 500)": syscall.EIO,
	} {
		t.Run(name, func(t *testing.T) {
			inner, err2 := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
			if err2 != nil {
				t.Fatal(err2)
			}
			t.Cleanup(func() { _ = inner.Close() })
			fs := &fullStore{Store: inner, err: err}
			s := servertest.StartWith(t, servertest.Options{Store: fs})
			must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "d"}))
			fs.full.Store(true)
			r := call(t, s.URL, "POST", pPut, s.AdminToken, map[string]any{"scope": "d", "key": "k", "string_value": "v"})
			if err == syscall.EIO {
				expect(t, r, 500, "INTERNAL_ERROR", "")
				return
			}
			expect(t, r, 503, "TEMPORARILY_UNAVAILABLE", "")
		})
	}
}
