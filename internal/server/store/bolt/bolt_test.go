package bolt_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", bolt.FileName)
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateScope(ctx, secrets.Scope{Name: "Keep", Backend: secrets.BackendDatabricks}, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecret(ctx, store.Secret{Scope: "keep", Key: "k", Sealed: []byte("sealed")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sec, err := s.GetSecret(ctx, "KEEP", "k")
	if err != nil || string(sec.Sealed) != "sealed" {
		t.Fatalf("after reopen: %q, %v", sec.Sealed, err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = bolt.Open(path, bolt.WithLockTimeout(50*time.Millisecond))
	if err == nil {
		t.Fatal("a second Open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("err = %v", err)
	}
}
