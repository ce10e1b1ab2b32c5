package server_test

import (
	"context"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

// starter starts a test server on one kind of store.
type starter struct {
	name  string
	start func(t *testing.T, o servertest.Options) *servertest.Server
}

// starters are the stores every API test runs against: bolt always,
// PostgreSQL when it answers (skipped loudly otherwise, fatal with
// HUSH_REQUIRE_POSTGRES=1).
var starters = []starter{
	{"bolt", func(t *testing.T, o servertest.Options) *servertest.Server { return servertest.StartWith(t, o) }},
	{"postgres", func(t *testing.T, o servertest.Options) *servertest.Server {
		dsn := storetest.PostgresSchema(t)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		o.Store = st
		return servertest.StartWith(t, o)
	}},
}

// eachStore runs f once per store as a subtest.
func eachStore(t *testing.T, o servertest.Options, f func(t *testing.T, s *servertest.Server)) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) { f(t, st.start(t, o)) })
	}
}
