package postgres_test

import (
	"context"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	s, err := postgres.Open(context.Background(), storetest.PostgresSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Benchmark(b, s)
}
