package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), bolt.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Benchmark(b, s)
}
