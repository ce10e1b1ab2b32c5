package postgres_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
	"github.com/hush-secrets/hush/redact/redacttest"
)

func openDSN(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openDSN(t, storetest.PostgresSchema(t))
	})
}

// TestReplicas opens two stores on one fresh schema at once (both race to
// apply the migrations) and runs the concurrency suite across them.
func TestReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := storetest.PostgresSchema(t)
		var stores [2]*postgres.Store
		var errs [2]error
		var wg sync.WaitGroup
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = postgres.Open(context.Background(), dsn)
			}()
		}
		wg.Wait()
		for i, s := range stores {
			if errs[i] != nil {
				t.Fatalf("replica %d: %v", i, errs[i])
			}
			t.Cleanup(func() { s.Close() })
		}
		return stores[0], stores[1]
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)
	// Several replicas start at once on an empty schema.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	s := openDSN(t, dsn)
	var versions []int
	rows, err := s.Pool().Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(versions) != postgres.SchemaVersion() || versions[len(versions)-1] != postgres.SchemaVersion() {
		t.Fatalf("schema_migrations = %v, want 1..%d once each", versions, postgres.SchemaVersion())
	}

	// A schema newer than this code is refused, not silently used.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "newer than this hush") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://user:pa55word@127.0.0.1:5432/x?sslmode=bogus",
		"postgres://user:pa55word@127.0.0.1:badport/x",
		"host=127.0.0.1 password=pa55word sslmode=bogus",
	} {
		_, err := postgres.Open(ctx, dsn)
		if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("pa55word")) {
			t.Fatal("bad DSN: no error, or one that quotes the password")
		}
	}
	// A port nothing listens on: a clear error naming the address, never the password.
	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	addr := l.Addr().String()
	l.Close()
	_, err := postgres.Open(ctx, "postgres://user:pa55word@"+addr+"/x?sslmode=disable&connect_timeout=5")
	if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("pa55word")) {
		t.Fatal("unreachable server: no error, or one that quotes the password")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable server: %v", err)
	}
}
