// Package storetest is the conformance suite every store.Store
// implementation passes (store/bolt, store/postgres), plus helpers for tests
// that need a PostgreSQL database.
//
// Conventions the suite pins down, so both stores behave alike:
//   - timestamps are kept at Precision (microseconds, what PostgreSQL keeps),
//     truncated (not rounded), and come back in UTC; the zero time stays zero;
//   - lists are never nil on success, and ordered as the interface says
//     (byte order of the canonical name, key, principal, user or group name;
//     tokens by creation time then ID; events by time then insertion);
//   - ErrExists wins over ErrLimit when both apply;
//   - AuditFilter.Scope compares case-insensitively, Actor exactly, Since is inclusive;
//   - UpdateGroup returns ErrNotFound for an unknown ID and ErrExists when the
//     new display name is another group's.
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// Precision is the resolution at which stores keep timestamps: a time
// written comes back as t.Truncate(Precision).UTC().
const Precision = time.Microsecond

// Opener returns a new, empty store for one test; it registers its own cleanup.
type Opener func(t *testing.T) store.Store

// ReplicaOpener returns two stores on one new, empty backing database, as two
// hush serve replicas would see it; it registers its own cleanup.
type ReplicaOpener func(t *testing.T) (store.Store, store.Store)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Run("Scopes", func(t *testing.T) { testScopes(t, open(t)) })
	t.Run("ScopeLimit", func(t *testing.T) { testScopeLimit(t, open(t)) })
	t.Run("DeleteScope", func(t *testing.T) { testDeleteScope(t, open(t)) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, open(t)) })
	t.Run("SecretLimit", func(t *testing.T) { testSecretLimit(t, open(t)) })
	t.Run("ACLs", func(t *testing.T) { testACLs(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, open(t)) })
	t.Run("GroupsOfOddIDs", func(t *testing.T) { testGroupsOfOddIDs(t, open(t)) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("TokenLimit", func(t *testing.T) { testTokenLimit(t, open(t)) })
	t.Run("TokenLimitConcurrent", func(t *testing.T) {
		s := open(t)
		testTokenLimitConcurrent(t, s, s)
	})
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("AuditBatch", func(t *testing.T) { testAuditBatch(t, open(t)) })
	t.Run("AuditRetention", func(t *testing.T) { testAuditRetention(t, open(t)) })
	t.Run("Meta", func(t *testing.T) { testMeta(t, open(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		testConcurrent(t, s, s)
	})
	t.Run("IdentityRules", func(t *testing.T) { RunIdentityRules(t, open) })
}

// RunReplicas runs the concurrency part of the suite with writers spread
// over two stores that share one database: limits must hold across replicas
// and no write may be lost.
func RunReplicas(t *testing.T, open ReplicaOpener) {
	t.Run("TokenLimitConcurrent", func(t *testing.T) {
		a, b := open(t)
		testTokenLimitConcurrent(t, a, b)
	})
	t.Run("Concurrent", func(t *testing.T) {
		a, b := open(t)
		testConcurrent(t, a, b)
	})
	t.Run("EditGroupConcurrent", func(t *testing.T) {
		a, b := open(t)
		testEditGroupConcurrent(t, a, b)
	})
}

var ctxBG = context.Background()

// T0 is a fixed time with nanoseconds, so truncation to Precision shows.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))

func norm(tm time.Time) time.Time {
	if tm.IsZero() {
		return tm
	}
	return tm.Truncate(Precision).UTC()
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	want = norm(want)
	if !got.Equal(want) || (!got.IsZero() && got.Location() != time.UTC) {
		t.Errorf("%s = %v, want %v (UTC, truncated to %v)", what, got, want, Precision)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func scope(name string) secrets.Scope {
	return secrets.Scope{Name: name, Backend: secrets.BackendDatabricks, CreatedAt: t0}
}

func createScope(t *testing.T, s store.Store, name string, acls ...secrets.ACL) {
	t.Helper()
	must(t, s.CreateScope(ctxBG, scope(name), acls, 0))
}

func putSecret(t *testing.T, s store.Store, sc, key, sealed string) {
	t.Helper()
	must(t, s.PutSecret(ctxBG, store.Secret{Scope: sc, Key: key, Sealed: []byte(sealed), UpdatedAt: t0}, 0))
}

func scopeNames(l []secrets.Scope) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Name)
	}
	return out
}

func keysOf(l []secrets.SecretMeta) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Key)
	}
	return out
}

func eq[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func testCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(ctxBG)
	cancel()
	if err := s.CreateScope(ctx, scope("x"), nil, 0); err == nil {
		t.Fatal("CreateScope with a canceled context succeeded")
	}
	if _, err := s.GetScope(ctxBG, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a write with a canceled context left state behind: %v", err)
	}
	if _, err := s.ListScopes(ctx); err == nil {
		t.Fatal("ListScopes with a canceled context succeeded")
	}
}
