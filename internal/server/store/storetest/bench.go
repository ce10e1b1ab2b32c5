package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// Benchmark measures the store calls on the hot paths of hush serve against
// s, which must be empty: GetSecret and TokenByHash (every authenticated
// read), PutSecret (new keys and overwrites) and AppendEvent, serially and
// from parallel goroutines. The scope holds 1,000 secrets of 256 bytes.
func Benchmark(b *testing.B, s store.Store) {
	const n = 1000
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(s.CreateScope(ctxBG, secrets.Scope{Name: "bench", Backend: secrets.BackendDatabricks, CreatedAt: t0}, nil, 0))
	sealed := make([]byte, 256)
	for i := range n {
		must(s.PutSecret(ctxBG, store.Secret{Scope: "bench", Key: fmt.Sprintf("k%04d", i), Sealed: sealed, UpdatedAt: t0}, 0))
	}
	must(s.CreateToken(ctxBG, store.Token{ID: "t1", UserID: "u1", Hash: make([]byte, 32), CreatedAt: t0}))

	b.Run("GetSecret", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetSecret(ctxBG, "bench", fmt.Sprintf("k%04d", i%n)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetSecretParallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetSecret(ctxBG, "bench", fmt.Sprintf("k%04d", next.Add(1)%n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("TokenByHash", func(b *testing.B) {
		h := make([]byte, 32)
		for b.Loop() {
			if _, err := s.TokenByHash(ctxBG, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PutSecretOverwrite", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := s.PutSecret(ctxBG, store.Secret{Scope: "bench", Key: fmt.Sprintf("k%04d", i%n), Sealed: sealed, UpdatedAt: t0}, secrets.DefaultMaxSecretsPerScope); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("PutSecretNewParallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := fmt.Sprintf("new%09d", next.Add(1))
				if err := s.PutSecret(ctxBG, store.Secret{Scope: "bench", Key: key, Sealed: sealed, UpdatedAt: t0}, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("AppendEvent", func(b *testing.B) {
		for b.Loop() {
			if err := s.AppendEvent(ctxBG, store.Event{Time: t0, Actor: "alice", Action: "secrets.get", Scope: "bench", Key: "k0001", Allowed: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
