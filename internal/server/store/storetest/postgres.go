package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresDSN is the test database used when HUSH_TEST_POSTGRES_DSN is not set.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN returns the DSN of the test PostgreSQL server
// ($HUSH_TEST_POSTGRES_DSN, else DefaultPostgresDSN) after checking that it
// answers. When it does not, the test is skipped with a loud message, or
// fails if HUSH_REQUIRE_POSTGRES=1 (as in CI).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("HUSH_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = DefaultPostgresDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s does not answer: %v (set HUSH_TEST_POSTGRES_DSN to a reachable database)", describeDSN(dsn), err)
		if os.Getenv("HUSH_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("HUSH_REQUIRE_POSTGRES=1: %s", msg)
		}
		t.Skipf("SKIPPING PostgreSQL test!!! %s; set HUSH_REQUIRE_POSTGRES=1 to fail instead", msg)
	}
	return dsn
}

// PostgresSchema creates a new, uniquely named schema in the test database
// and returns a DSN whose search_path is that schema, so tests running in
// parallel (even from different packages) never see each other's tables.
// The schema is dropped when the test ends (after cleanups registered later,
// such as closing a store, have run). It skips or fails like PostgresDSN.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresDSN(t)
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("hush_test_%d_%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns dsn (URL or key=value form) with its search_path
// session setting set to schema.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// describeDSN names the server without any password.
func describeDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Host != "" {
		return u.Redacted()
	}
	return "HUSH_TEST_POSTGRES_DSN"
}
