package server_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

// Issue 13, item 3, on a real PostgreSQL whose audit inserts fail (a
// CHECK constraint that refuses every new row): reads return no value,
// writes are not applied, /healthz reports the audit sink; dropping the
// constraint recovers.
func TestAuditFailsClosedOnPostgres(t *testing.T) {
	dsn := storetest.PostgresSchema(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := servertest.StartWith(t, servertest.Options{Store: st})
	tok := s.AdminToken
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "a"}))
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "a", "key": "k", "string_value": "before"}))

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sql := func(q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sql(`ALTER TABLE audit_events ADD CONSTRAINT hush_test_refuse CHECK (false) NOT VALID`)
	r := call(t, s.URL, "GET", pGet, tok, nil, "scope", "a", "key", "k")
	expect(t, r, 503, "TEMPORARILY_UNAVAILABLE", "")
	if _, ok := r.body["value"]; ok {
		t.Fatal("a value was returned without an audit record")
	}
	expect(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "a", "key": "k", "string_value": "during"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "GET", "/healthz", "", nil), 503, "TEMPORARILY_UNAVAILABLE", "")

	sql(`ALTER TABLE audit_events DROP CONSTRAINT hush_test_refuse`)
	must(t, call(t, s.URL, "GET", "/healthz", "", nil))
	r = must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "a", "key", "k"))
	if got := decodeValue(t, r); got != "before" {
		t.Fatalf("the write during the outage was applied: %q", got)
	}
}
