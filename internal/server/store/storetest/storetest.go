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
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("AuditBatch", func(t *testing.T) { testAuditBatch(t, open(t)) })
	t.Run("Meta", func(t *testing.T) { testMeta(t, open(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		testConcurrent(t, s, s)
	})
}

// RunReplicas runs the concurrency part of the suite with writers spread
// over two stores that share one database: limits must hold across replicas
// and no write may be lost.
func RunReplicas(t *testing.T, open ReplicaOpener) {
	t.Run("Concurrent", func(t *testing.T) {
		a, b := open(t)
		testConcurrent(t, a, b)
	})
}

// ---- helpers ----

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

// ---- scopes ----

func testScopes(t *testing.T, s store.Store) {
	l, err := s.ListScopes(ctxBG)
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListScopes of an empty store = %#v, want empty non-nil", l)
	}
	_, err = s.GetScope(ctxBG, "nope")
	wantErr(t, "GetScope missing", err, store.ErrNotFound)

	must(t, s.CreateScope(ctxBG, scope("Beta"), nil, 0))
	must(t, s.CreateScope(ctxBG, scope("alpha"), nil, 0))
	files := secrets.Scope{Name: "Gamma.files", Backend: secrets.BackendFiles, FilesPath: "team/a", CreatedAt: t0.Add(time.Hour)}
	must(t, s.CreateScope(ctxBG, files, nil, 0))

	for _, name := range []string{"beta", "BETA", "bEtA"} {
		err = s.CreateScope(ctxBG, scope(name), nil, 0)
		wantErr(t, "CreateScope "+name+" after Beta", err, store.ErrExists)
	}

	got, err := s.GetScope(ctxBG, "BETA")
	must(t, err)
	if got.Name != "Beta" || got.Backend != secrets.BackendDatabricks || got.FilesPath != "" {
		t.Fatalf("GetScope = %+v", got)
	}
	sameTime(t, "scope CreatedAt", got.CreatedAt, t0)

	got, err = s.GetScope(ctxBG, "gamma.FILES")
	must(t, err)
	if got.Name != "Gamma.files" || got.Backend != secrets.BackendFiles || got.FilesPath != "team/a" || !got.ReadOnly() {
		t.Fatalf("GetScope files = %+v", got)
	}
	sameTime(t, "files scope CreatedAt", got.CreatedAt, files.CreatedAt)

	l, err = s.ListScopes(ctxBG)
	must(t, err)
	eq(t, "ListScopes", scopeNames(l), []string{"alpha", "Beta", "Gamma.files"})

	// Initial ACLs are stored with the scope.
	must(t, s.CreateScope(ctxBG, scope("withacl"), []secrets.ACL{
		{Principal: "users", Permission: secrets.Manage},
		{Principal: "alice@example.com", Permission: secrets.Read},
	}, 0))
	acls, err := s.ListACLs(ctxBG, "WithACL")
	must(t, err)
	eq(t, "initial ACLs", acls, []secrets.ACL{{Principal: "alice@example.com", Permission: secrets.Read}, {Principal: "users", Permission: secrets.Manage}})

	// A failed create (exists) changes nothing.
	err = s.CreateScope(ctxBG, scope("WITHACL"), []secrets.ACL{{Principal: "mallory", Permission: secrets.Manage}}, 0)
	wantErr(t, "CreateScope duplicate with ACLs", err, store.ErrExists)
	_, err = s.GetACL(ctxBG, "withacl", "mallory")
	wantErr(t, "ACL of a failed CreateScope", err, store.ErrNotFound)
}

func testScopeLimit(t *testing.T, s store.Store) {
	for i := range 3 {
		must(t, s.CreateScope(ctxBG, scope(fmt.Sprintf("s%d", i)), nil, 3))
	}
	err := s.CreateScope(ctxBG, scope("s3"), []secrets.ACL{{Principal: "users", Permission: secrets.Manage}}, 3)
	wantErr(t, "CreateScope over limit", err, store.ErrLimit)
	_, err = s.GetScope(ctxBG, "s3")
	wantErr(t, "scope refused by limit", err, store.ErrNotFound)
	// ErrExists wins over ErrLimit.
	err = s.CreateScope(ctxBG, scope("S0"), nil, 3)
	wantErr(t, "CreateScope existing at limit", err, store.ErrExists)
	// No limit / a higher limit.
	must(t, s.CreateScope(ctxBG, scope("s3"), nil, 0))
	must(t, s.CreateScope(ctxBG, scope("s4"), nil, -1))
	must(t, s.CreateScope(ctxBG, scope("s5"), nil, 6))
	wantErr(t, "CreateScope over limit 6", s.CreateScope(ctxBG, scope("s6"), nil, 6), store.ErrLimit)
	// Deleting frees a slot.
	must(t, s.DeleteScope(ctxBG, "s0"))
	must(t, s.CreateScope(ctxBG, scope("s6"), nil, 6))
}

func testDeleteScope(t *testing.T, s store.Store) {
	wantErr(t, "DeleteScope missing", s.DeleteScope(ctxBG, "nope"), store.ErrNotFound)
	createScope(t, s, "Doomed", secrets.ACL{Principal: "alice", Permission: secrets.Manage})
	createScope(t, s, "keep", secrets.ACL{Principal: "alice", Permission: secrets.Read})
	putSecret(t, s, "doomed", "k1", "sealed1")
	putSecret(t, s, "doomed", "k2", "sealed2")
	putSecret(t, s, "keep", "k1", "sealed-keep")
	must(t, s.PutACL(ctxBG, "doomed", secrets.ACL{Principal: "bob", Permission: secrets.Write}))

	must(t, s.DeleteScope(ctxBG, "DOOMED"))
	_, err := s.GetScope(ctxBG, "doomed")
	wantErr(t, "GetScope deleted", err, store.ErrNotFound)
	_, err = s.GetSecret(ctxBG, "doomed", "k1")
	wantErr(t, "GetSecret of deleted scope", err, store.ErrNotFound)
	_, err = s.ListSecrets(ctxBG, "doomed")
	wantErr(t, "ListSecrets of deleted scope", err, store.ErrNotFound)
	_, err = s.ListACLs(ctxBG, "doomed")
	wantErr(t, "ListACLs of deleted scope", err, store.ErrNotFound)
	wantErr(t, "DeleteScope twice", s.DeleteScope(ctxBG, "doomed"), store.ErrNotFound)

	// Recreated: empty, and only the new initial ACLs.
	createScope(t, s, "doomed", secrets.ACL{Principal: "carol", Permission: secrets.Manage})
	l, err := s.ListSecrets(ctxBG, "doomed")
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("recreated scope has secrets %v", keysOf(l))
	}
	acls, err := s.ListACLs(ctxBG, "doomed")
	must(t, err)
	eq(t, "ACLs of recreated scope", acls, []secrets.ACL{{Principal: "carol", Permission: secrets.Manage}})

	// The other scope is untouched.
	sec, err := s.GetSecret(ctxBG, "keep", "k1")
	must(t, err)
	if string(sec.Sealed) != "sealed-keep" {
		t.Fatalf("other scope's secret = %q", sec.Sealed)
	}
	acls, err = s.ListACLs(ctxBG, "keep")
	must(t, err)
	eq(t, "ACLs of other scope", acls, []secrets.ACL{{Principal: "alice", Permission: secrets.Read}})
}

// ---- secrets ----

func testSecrets(t *testing.T, s store.Store) {
	createScope(t, s, "MyScope")
	_, err := s.GetSecret(ctxBG, "nope", "k")
	wantErr(t, "GetSecret missing scope", err, store.ErrNotFound)
	_, err = s.GetSecret(ctxBG, "myscope", "k")
	wantErr(t, "GetSecret missing key", err, store.ErrNotFound)
	err = s.PutSecret(ctxBG, store.Secret{Scope: "nope", Key: "k", Sealed: []byte("x"), UpdatedAt: t0}, 0)
	wantErr(t, "PutSecret missing scope", err, store.ErrNotFound)
	_, err = s.ListSecrets(ctxBG, "nope")
	wantErr(t, "ListSecrets missing scope", err, store.ErrNotFound)
	wantErr(t, "DeleteSecret missing scope", s.DeleteSecret(ctxBG, "nope", "k"), store.ErrNotFound)
	wantErr(t, "DeleteSecret missing key", s.DeleteSecret(ctxBG, "myscope", "k"), store.ErrNotFound)

	l, err := s.ListSecrets(ctxBG, "myscope")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListSecrets of an empty scope = %#v, want empty non-nil", l)
	}

	// Opaque bytes, any content, up to the value limit plus sealing overhead.
	big := bytes.Repeat([]byte{0, 0xff, 'a', '\n'}, (secrets.MaxValueBytes+64)/4)
	must(t, s.PutSecret(ctxBG, store.Secret{Scope: "MYSCOPE", Key: "b.key", Sealed: big, UpdatedAt: t0}, 0))
	must(t, s.PutSecret(ctxBG, store.Secret{Scope: "myscope", Key: "A_key", Sealed: []byte("v1"), UpdatedAt: t0.Add(time.Second)}, 0))
	must(t, s.PutSecret(ctxBG, store.Secret{Scope: "myscope", Key: "a_key", Sealed: []byte("lower"), UpdatedAt: t0}, 0))

	got, err := s.GetSecret(ctxBG, "mYsCoPe", "b.key")
	must(t, err)
	if got.Scope != "myscope" || got.Key != "b.key" || !bytes.Equal(got.Sealed, big) {
		t.Fatalf("GetSecret = scope %q key %q, %d bytes (equal %v)", got.Scope, got.Key, len(got.Sealed), bytes.Equal(got.Sealed, big))
	}
	sameTime(t, "secret UpdatedAt", got.UpdatedAt, t0)

	// Keys are case-sensitive.
	got, err = s.GetSecret(ctxBG, "myscope", "A_key")
	must(t, err)
	if string(got.Sealed) != "v1" {
		t.Fatalf("A_key = %q", got.Sealed)
	}
	_, err = s.GetSecret(ctxBG, "myscope", "A_KEY")
	wantErr(t, "GetSecret other case key", err, store.ErrNotFound)

	// Overwrite.
	must(t, s.PutSecret(ctxBG, store.Secret{Scope: "myscope", Key: "A_key", Sealed: []byte("v2"), UpdatedAt: t0.Add(time.Minute)}, 0))
	got, err = s.GetSecret(ctxBG, "myscope", "A_key")
	must(t, err)
	if string(got.Sealed) != "v2" {
		t.Fatalf("after overwrite A_key = %q", got.Sealed)
	}
	sameTime(t, "overwritten UpdatedAt", got.UpdatedAt, t0.Add(time.Minute))

	l, err = s.ListSecrets(ctxBG, "MyScope")
	must(t, err)
	eq(t, "ListSecrets", keysOf(l), []string{"A_key", "a_key", "b.key"})
	sameTime(t, "listed UpdatedAt", l[0].UpdatedAt, t0.Add(time.Minute))

	must(t, s.DeleteSecret(ctxBG, "MYSCOPE", "a_key"))
	_, err = s.GetSecret(ctxBG, "myscope", "a_key")
	wantErr(t, "GetSecret deleted", err, store.ErrNotFound)
	wantErr(t, "DeleteSecret twice", s.DeleteSecret(ctxBG, "myscope", "a_key"), store.ErrNotFound)
	l, err = s.ListSecrets(ctxBG, "myscope")
	must(t, err)
	eq(t, "ListSecrets after delete", keysOf(l), []string{"A_key", "b.key"})

	// The returned bytes are the caller's: changing them changes nothing stored.
	got, err = s.GetSecret(ctxBG, "myscope", "A_key")
	must(t, err)
	got.Sealed[0] = 'X'
	again, err := s.GetSecret(ctxBG, "myscope", "A_key")
	must(t, err)
	if string(again.Sealed) != "v2" {
		t.Fatalf("stored value changed through a returned slice: %q", again.Sealed)
	}
}

func testSecretLimit(t *testing.T, s store.Store) {
	createScope(t, s, "lim")
	createScope(t, s, "other")
	put := func(sc, key, v string, max int) error {
		return s.PutSecret(ctxBG, store.Secret{Scope: sc, Key: key, Sealed: []byte(v), UpdatedAt: t0}, max)
	}
	for i := range 3 {
		must(t, put("lim", fmt.Sprintf("k%d", i), "v", 3))
	}
	wantErr(t, "PutSecret over limit", put("lim", "k3", "v", 3), store.ErrLimit)
	_, err := s.GetSecret(ctxBG, "lim", "k3")
	wantErr(t, "secret refused by limit", err, store.ErrNotFound)
	// Overwriting at the limit is fine.
	must(t, put("LIM", "k1", "new", 3))
	got, err := s.GetSecret(ctxBG, "lim", "k1")
	must(t, err)
	if string(got.Sealed) != "new" {
		t.Fatalf("overwrite at limit: %q", got.Sealed)
	}
	// The limit is per scope.
	must(t, put("other", "k0", "v", 3))
	// No limit.
	must(t, put("lim", "k3", "v", 0))
	// Deleting frees a slot.
	wantErr(t, "PutSecret over limit 4", put("lim", "k4", "v", 4), store.ErrLimit)
	must(t, s.DeleteSecret(ctxBG, "lim", "k0"))
	must(t, put("lim", "k4", "v", 4))
	l, err := s.ListSecrets(ctxBG, "lim")
	must(t, err)
	eq(t, "ListSecrets", keysOf(l), []string{"k1", "k2", "k3", "k4"})
}

// ---- ACLs ----

func testACLs(t *testing.T, s store.Store) {
	acl := secrets.ACL{Principal: "alice@example.com", Permission: secrets.Read}
	wantErr(t, "PutACL missing scope", s.PutACL(ctxBG, "nope", acl), store.ErrNotFound)
	_, err := s.GetACL(ctxBG, "nope", "alice@example.com")
	wantErr(t, "GetACL missing scope", err, store.ErrNotFound)
	_, err = s.ListACLs(ctxBG, "nope")
	wantErr(t, "ListACLs missing scope", err, store.ErrNotFound)
	wantErr(t, "DeleteACL missing scope", s.DeleteACL(ctxBG, "nope", "alice@example.com"), store.ErrNotFound)

	createScope(t, s, "Sc")
	l, err := s.ListACLs(ctxBG, "sc")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListACLs with none = %#v, want empty non-nil", l)
	}
	_, err = s.GetACL(ctxBG, "sc", "alice@example.com")
	wantErr(t, "GetACL missing principal", err, store.ErrNotFound)
	wantErr(t, "DeleteACL missing principal", s.DeleteACL(ctxBG, "sc", "alice@example.com"), store.ErrNotFound)

	if err := s.PutACL(ctxBG, "sc", secrets.ACL{Principal: "bob", Permission: secrets.NoPermission}); err == nil {
		t.Fatal("PutACL with NoPermission succeeded")
	}
	if err := s.PutACL(ctxBG, "sc", secrets.ACL{Principal: "", Permission: secrets.Read}); err == nil {
		t.Fatal("PutACL with an empty principal succeeded")
	}
	if err := s.CreateScope(ctxBG, scope("badacl"), []secrets.ACL{{Principal: "bob", Permission: secrets.Permission(9)}}, 0); err == nil {
		t.Fatal("CreateScope with an invalid permission succeeded")
	}
	_, err = s.GetScope(ctxBG, "badacl")
	wantErr(t, "scope of a refused CreateScope", err, store.ErrNotFound)
	must(t, s.PutACL(ctxBG, "SC", acl))
	must(t, s.PutACL(ctxBG, "sc", secrets.ACL{Principal: "users", Permission: secrets.Write}))
	must(t, s.PutACL(ctxBG, "sc", secrets.ACL{Principal: "Admins-Group", Permission: secrets.Manage}))
	got, err := s.GetACL(ctxBG, "sC", "alice@example.com")
	must(t, err)
	if got != acl {
		t.Fatalf("GetACL = %+v", got)
	}
	// Principals are case-sensitive.
	_, err = s.GetACL(ctxBG, "sc", "ALICE@example.com")
	wantErr(t, "GetACL other case principal", err, store.ErrNotFound)

	// Overwrite.
	must(t, s.PutACL(ctxBG, "sc", secrets.ACL{Principal: "alice@example.com", Permission: secrets.Manage}))
	l, err = s.ListACLs(ctxBG, "sc")
	must(t, err)
	eq(t, "ListACLs", l, []secrets.ACL{
		{Principal: "Admins-Group", Permission: secrets.Manage},
		{Principal: "alice@example.com", Permission: secrets.Manage},
		{Principal: "users", Permission: secrets.Write},
	})
	must(t, s.DeleteACL(ctxBG, "Sc", "users"))
	_, err = s.GetACL(ctxBG, "sc", "users")
	wantErr(t, "GetACL deleted", err, store.ErrNotFound)
	l, err = s.ListACLs(ctxBG, "sc")
	must(t, err)
	if len(l) != 2 {
		t.Fatalf("after delete ListACLs = %v", l)
	}
}

// ---- users, groups ----

func user(id, name string) store.User {
	return store.User{ID: id, UserName: name, DisplayName: "User " + id, Active: true, CreatedAt: t0}
}

func testUsers(t *testing.T, s store.Store) {
	_, err := s.GetUser(ctxBG, "u1")
	wantErr(t, "GetUser missing", err, store.ErrNotFound)
	_, err = s.GetUserByName(ctxBG, "a@x")
	wantErr(t, "GetUserByName missing", err, store.ErrNotFound)
	l, err := s.ListUsers(ctxBG)
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListUsers empty = %#v", l)
	}

	must(t, s.CreateUser(ctxBG, user("u1", "zed@example.com")))
	must(t, s.CreateUser(ctxBG, user("u2", "Amy@example.com")))
	u3 := user("u3", "bob@example.com")
	u3.Active = false
	u3.DisplayName = ""
	must(t, s.CreateUser(ctxBG, u3))
	wantErr(t, "CreateUser same id", s.CreateUser(ctxBG, user("u1", "new@example.com")), store.ErrExists)
	wantErr(t, "CreateUser same name", s.CreateUser(ctxBG, user("u9", "zed@example.com")), store.ErrExists)
	// User names are case-sensitive as given.
	must(t, s.CreateUser(ctxBG, user("u4", "ZED@example.com")))

	got, err := s.GetUser(ctxBG, "u3")
	must(t, err)
	sameTime(t, "user CreatedAt", got.CreatedAt, t0)
	got.CreatedAt = time.Time{}
	if want := (store.User{ID: "u3", UserName: "bob@example.com"}); got != want {
		t.Fatalf("GetUser = %+v, want %+v", got, want)
	}
	got, err = s.GetUserByName(ctxBG, "zed@example.com")
	must(t, err)
	if got.ID != "u1" || got.DisplayName != "User u1" || !got.Active {
		t.Fatalf("GetUserByName = %+v", got)
	}
	_, err = s.GetUserByName(ctxBG, "Zed@example.com")
	wantErr(t, "GetUserByName other case", err, store.ErrNotFound)

	l, err = s.ListUsers(ctxBG)
	must(t, err)
	var names []string
	for _, u := range l {
		names = append(names, u.UserName)
	}
	eq(t, "ListUsers", names, []string{"Amy@example.com", "ZED@example.com", "bob@example.com", "zed@example.com"})

	// Update, including a rename.
	upd := user("u1", "zed2@example.com")
	upd.Active = false
	must(t, s.UpdateUser(ctxBG, upd))
	got, err = s.GetUserByName(ctxBG, "zed2@example.com")
	must(t, err)
	if got.ID != "u1" || got.Active {
		t.Fatalf("after rename = %+v", got)
	}
	_, err = s.GetUserByName(ctxBG, "zed@example.com")
	wantErr(t, "old name after rename", err, store.ErrNotFound)
	must(t, s.CreateUser(ctxBG, user("u5", "zed@example.com"))) // the old name is free again
	wantErr(t, "UpdateUser to a taken name", s.UpdateUser(ctxBG, user("u1", "Amy@example.com")), store.ErrExists)
	got, err = s.GetUser(ctxBG, "u1")
	must(t, err)
	if got.UserName != "zed2@example.com" {
		t.Fatalf("failed rename changed the user: %+v", got)
	}
	wantErr(t, "UpdateUser missing", s.UpdateUser(ctxBG, user("u99", "x@y")), store.ErrNotFound)
	wantErr(t, "DeleteUser missing", s.DeleteUser(ctxBG, "u99"), store.ErrNotFound)
}

func groupNames(l []store.Group) []string {
	out := []string{}
	for _, g := range l {
		out = append(out, g.DisplayName)
	}
	return out
}

func testGroups(t *testing.T, s store.Store) {
	_, err := s.GetGroup(ctxBG, "g1")
	wantErr(t, "GetGroup missing", err, store.ErrNotFound)
	_, err = s.GetGroupByName(ctxBG, "admins")
	wantErr(t, "GetGroupByName missing", err, store.ErrNotFound)
	l, err := s.ListGroups(ctxBG)
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListGroups empty = %#v", l)
	}

	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "admins", Members: []string{"u2", "u1"}, CreatedAt: t0}))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "data-eng", CreatedAt: t0}))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g3", DisplayName: "Analysts", Members: []string{"u1"}, CreatedAt: t0}))
	wantErr(t, "CreateGroup same id", s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "other"}), store.ErrExists)
	wantErr(t, "CreateGroup same name", s.CreateGroup(ctxBG, store.Group{ID: "g9", DisplayName: "admins"}), store.ErrExists)

	g, err := s.GetGroup(ctxBG, "g1")
	must(t, err)
	if g.DisplayName != "admins" || !slices.Equal(g.Members, []string{"u2", "u1"}) {
		t.Fatalf("GetGroup = %+v", g)
	}
	sameTime(t, "group CreatedAt", g.CreatedAt, t0)
	g, err = s.GetGroupByName(ctxBG, "data-eng")
	must(t, err)
	if g.ID != "g2" || len(g.Members) != 0 {
		t.Fatalf("GetGroupByName = %+v", g)
	}
	l, err = s.ListGroups(ctxBG)
	must(t, err)
	eq(t, "ListGroups", groupNames(l), []string{"Analysts", "admins", "data-eng"})

	l, err = s.GroupsOf(ctxBG, "u1")
	must(t, err)
	eq(t, "GroupsOf u1", groupNames(l), []string{"Analysts", "admins"})
	l, err = s.GroupsOf(ctxBG, "nobody")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("GroupsOf nobody = %#v", l)
	}

	// Update members and name.
	must(t, s.UpdateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "data-engineering", Members: []string{"u3", "u1"}, CreatedAt: t0}))
	g, err = s.GetGroupByName(ctxBG, "data-engineering")
	must(t, err)
	if g.ID != "g2" || !slices.Equal(g.Members, []string{"u3", "u1"}) {
		t.Fatalf("after UpdateGroup = %+v", g)
	}
	_, err = s.GetGroupByName(ctxBG, "data-eng")
	wantErr(t, "old group name", err, store.ErrNotFound)
	l, err = s.GroupsOf(ctxBG, "u1")
	must(t, err)
	eq(t, "GroupsOf u1 after update", groupNames(l), []string{"Analysts", "admins", "data-engineering"})
	wantErr(t, "UpdateGroup to a taken name", s.UpdateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "admins"}), store.ErrExists)
	wantErr(t, "UpdateGroup missing", s.UpdateGroup(ctxBG, store.Group{ID: "g99", DisplayName: "x"}), store.ErrNotFound)

	// Empty the members.
	must(t, s.UpdateGroup(ctxBG, store.Group{ID: "g3", DisplayName: "Analysts", CreatedAt: t0}))
	g, err = s.GetGroup(ctxBG, "g3")
	must(t, err)
	if len(g.Members) != 0 {
		t.Fatalf("members after emptying = %v", g.Members)
	}

	must(t, s.DeleteGroup(ctxBG, "g1"))
	_, err = s.GetGroup(ctxBG, "g1")
	wantErr(t, "GetGroup deleted", err, store.ErrNotFound)
	_, err = s.GetGroupByName(ctxBG, "admins")
	wantErr(t, "GetGroupByName deleted", err, store.ErrNotFound)
	wantErr(t, "DeleteGroup twice", s.DeleteGroup(ctxBG, "g1"), store.ErrNotFound)
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g4", DisplayName: "admins"}))
}

// testGroupsOfOddIDs: GroupsOf matches member IDs exactly, also IDs with
// characters that encodings escape, IDs that are prefixes of others, and
// IDs that equal a group's ID or name.
func testGroupsOfOddIDs(t *testing.T, s store.Store) {
	odd := `a<b>&"c\ü`
	for _, u := range []store.User{user(odd, "odd@example.com"), user("u1", "u1@example.com"), user("u10", "u10@example.com")} {
		must(t, s.CreateUser(ctxBG, u))
	}
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "odd", Members: []string{odd}, CreatedAt: t0}))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "u1", DisplayName: "u1", Members: []string{"u10"}, CreatedAt: t0}))
	l, err := s.GroupsOf(ctxBG, odd)
	must(t, err)
	eq(t, "GroupsOf odd ID", groupNames(l), []string{"odd"})
	l, err = s.GroupsOf(ctxBG, "u1")
	must(t, err)
	eq(t, "GroupsOf u1 (named like a group, prefix of u10)", groupNames(l), []string{})
	l, err = s.GroupsOf(ctxBG, "u10")
	must(t, err)
	eq(t, "GroupsOf u10", groupNames(l), []string{"u1"})
	l, err = s.GroupsOf(ctxBG, `a<b>&"c`)
	must(t, err)
	eq(t, "GroupsOf prefix of odd ID", groupNames(l), []string{})
}

func testDeleteUser(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("u1", "alice@example.com")))
	must(t, s.CreateUser(ctxBG, user("u2", "bob@example.com")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "admins", Members: []string{"u1", "u2"}}))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "solo", Members: []string{"u1"}}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t1", UserID: "u1", Hash: []byte("hash-1"), CreatedAt: t0}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t2", UserID: "u2", Hash: []byte("hash-2"), CreatedAt: t0}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t3", UserID: "u1", Hash: []byte("hash-3"), CreatedAt: t0, CreatedBy: "u2"}))

	must(t, s.DeleteUser(ctxBG, "u1"))
	_, err := s.GetUser(ctxBG, "u1")
	wantErr(t, "GetUser deleted", err, store.ErrNotFound)
	_, err = s.GetUserByName(ctxBG, "alice@example.com")
	wantErr(t, "GetUserByName deleted", err, store.ErrNotFound)
	for _, id := range []string{"t1", "t3"} {
		_, err = s.GetToken(ctxBG, id)
		wantErr(t, "token of deleted user", err, store.ErrNotFound)
	}
	_, err = s.TokenByHash(ctxBG, []byte("hash-1"))
	wantErr(t, "TokenByHash of deleted user", err, store.ErrNotFound)
	toks, err := s.ListTokens(ctxBG, "")
	must(t, err)
	if len(toks) != 1 || toks[0].ID != "t2" {
		t.Fatalf("tokens left = %+v", toks)
	}
	g, err := s.GetGroup(ctxBG, "g1")
	must(t, err)
	eq(t, "admins members", g.Members, []string{"u2"})
	g, err = s.GetGroup(ctxBG, "g2")
	must(t, err)
	if len(g.Members) != 0 {
		t.Fatalf("solo members = %v", g.Members)
	}
	l, err := s.GroupsOf(ctxBG, "u1")
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("GroupsOf deleted user = %v", groupNames(l))
	}
	// The name is free again, and the new user inherits nothing.
	must(t, s.CreateUser(ctxBG, user("u1b", "alice@example.com")))
	toks, err = s.ListTokens(ctxBG, "u1b")
	must(t, err)
	if len(toks) != 0 {
		t.Fatalf("new user has tokens %+v", toks)
	}
}

// ---- tokens ----

func testTokens(t *testing.T, s store.Store) {
	_, err := s.TokenByHash(ctxBG, []byte("nope"))
	wantErr(t, "TokenByHash missing", err, store.ErrNotFound)
	_, err = s.GetToken(ctxBG, "nope")
	wantErr(t, "GetToken missing", err, store.ErrNotFound)
	wantErr(t, "DeleteToken missing", s.DeleteToken(ctxBG, "nope"), store.ErrNotFound)
	l, err := s.ListTokens(ctxBG, "")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListTokens empty = %#v", l)
	}

	h := func(i byte) []byte { return bytes.Repeat([]byte{i, 0, 0xff}, 11)[:32] }
	exp := t0.Add(90 * 24 * time.Hour)
	tok := store.Token{ID: "t-b", UserID: "u1", Hash: h(1), Comment: "laptop", CreatedAt: t0.Add(2 * time.Second), ExpiresAt: exp, CreatedBy: "admin"}
	must(t, s.CreateToken(ctxBG, tok))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-a", UserID: "u1", Hash: h(2), CreatedAt: t0.Add(2 * time.Second)}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-c", UserID: "u2", Hash: h(3), CreatedAt: t0}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-d", UserID: "u1", Hash: h(4), CreatedAt: t0.Add(time.Second)}))
	wantErr(t, "CreateToken same id", s.CreateToken(ctxBG, store.Token{ID: "t-a", UserID: "u1", Hash: h(9), CreatedAt: t0}), store.ErrExists)
	wantErr(t, "CreateToken same hash", s.CreateToken(ctxBG, store.Token{ID: "t-z", UserID: "u1", Hash: h(1), CreatedAt: t0}), store.ErrExists)
	_, err = s.GetToken(ctxBG, "t-z")
	wantErr(t, "token refused for its hash", err, store.ErrNotFound)

	check := func(what string, got store.Token) {
		t.Helper()
		if got.ID != tok.ID || got.UserID != tok.UserID || !bytes.Equal(got.Hash, tok.Hash) || got.Comment != tok.Comment || got.CreatedBy != tok.CreatedBy {
			t.Fatalf("%s = %+v, want %+v", what, got, tok)
		}
		sameTime(t, what+" CreatedAt", got.CreatedAt, tok.CreatedAt)
		sameTime(t, what+" ExpiresAt", got.ExpiresAt, tok.ExpiresAt)
	}
	got, err := s.TokenByHash(ctxBG, h(1))
	must(t, err)
	check("TokenByHash", got)
	got, err = s.GetToken(ctxBG, "t-b")
	must(t, err)
	check("GetToken", got)
	got, err = s.GetToken(ctxBG, "t-a")
	must(t, err)
	if !got.ExpiresAt.IsZero() {
		t.Fatalf("never-expiring token ExpiresAt = %v, want zero", got.ExpiresAt)
	}
	_, err = s.TokenByHash(ctxBG, h(1)[:31])
	wantErr(t, "TokenByHash prefix", err, store.ErrNotFound)

	ids := func(l []store.Token) []string {
		var out []string
		for _, t := range l {
			out = append(out, t.ID)
		}
		return out
	}
	l, err = s.ListTokens(ctxBG, "")
	must(t, err)
	eq(t, "ListTokens all", ids(l), []string{"t-c", "t-d", "t-a", "t-b"})
	l, err = s.ListTokens(ctxBG, "u1")
	must(t, err)
	eq(t, "ListTokens u1", ids(l), []string{"t-d", "t-a", "t-b"})
	l, err = s.ListTokens(ctxBG, "nobody")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListTokens nobody = %#v", l)
	}

	must(t, s.DeleteToken(ctxBG, "t-b"))
	_, err = s.TokenByHash(ctxBG, h(1))
	wantErr(t, "TokenByHash revoked", err, store.ErrNotFound)
	_, err = s.GetToken(ctxBG, "t-b")
	wantErr(t, "GetToken revoked", err, store.ErrNotFound)
	wantErr(t, "DeleteToken twice", s.DeleteToken(ctxBG, "t-b"), store.ErrNotFound)
	// The hash is free again.
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-e", UserID: "u1", Hash: h(1), CreatedAt: t0}))
}

// ---- audit ----

func testAudit(t *testing.T, s store.Store) {
	l, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListEvents empty = %#v", l)
	}
	ev := func(sec int, actor, action, sc string) store.Event {
		return store.Event{Time: t0.Add(time.Duration(sec) * time.Second), Actor: actor, Action: action, Scope: sc,
			Key: "k", Remote: "127.0.0.1:1234", Allowed: actor != "", ErrorCode: map[bool]string{true: "", false: "UNAUTHENTICATED"}[actor != ""]}
	}
	// Appended out of time order, and two at the same instant.
	in := []store.Event{
		ev(3, "alice", "secrets.get", "Prod"),
		ev(1, "bob", "secrets.put", "prod"),
		ev(2, "", "secrets.get", "dev"),
		ev(3, "bob", "acls.put", "dev"),
		ev(5, "alice", "secrets.delete", "prod"),
	}
	in[3].Key = "alice"
	for _, e := range in {
		must(t, s.AppendEvent(ctxBG, e))
	}
	desc := func(l []store.Event) []string {
		var out []string
		for _, e := range l {
			out = append(out, fmt.Sprintf("%d/%s/%s/%s", e.Time.Sub(norm(t0))/time.Second, e.Actor, e.Action, e.Scope))
		}
		return out
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	eq(t, "all events", desc(l), []string{"1/bob/secrets.put/prod", "2//secrets.get/dev", "3/alice/secrets.get/Prod", "3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	// Every field round-trips.
	got := l[1]
	sameTime(t, "event Time", got.Time, in[2].Time)
	got.Time = time.Time{}
	want := in[2]
	want.Time = time.Time{}
	if got != want {
		t.Fatalf("event = %+v, want %+v", got, want)
	}
	if l[3].Key != "alice" || !l[3].Allowed {
		t.Fatalf("event = %+v", l[3])
	}

	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "PROD"})
	must(t, err)
	eq(t, "scope filter", desc(l), []string{"1/bob/secrets.put/prod", "3/alice/secrets.get/Prod", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "alice"})
	must(t, err)
	eq(t, "actor filter", desc(l), []string{"3/alice/secrets.get/Prod", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "Alice"})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("actor filter is exact, got %v", desc(l))
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(2 * time.Second)})
	must(t, err)
	eq(t, "since filter (inclusive)", desc(l), []string{"2//secrets.get/dev", "3/alice/secrets.get/Prod", "3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Limit: 2})
	must(t, err)
	eq(t, "limit: newest, in time order", desc(l), []string{"3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "dev", Limit: 1})
	must(t, err)
	eq(t, "scope + limit", desc(l), []string{"3/bob/acls.put/dev"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(2 * time.Second), Actor: "bob", Limit: 5})
	must(t, err)
	eq(t, "since + actor + limit", desc(l), []string{"3/bob/acls.put/dev"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(4 * time.Second), Limit: 10})
	must(t, err)
	eq(t, "since + big limit", desc(l), []string{"5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(time.Hour)})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("since after all = %v", desc(l))
	}
}

// testAuditBatch: AppendEvents stores a batch as single appends in slice
// order would (same ordering, same filters), atomically, and an empty
// batch is a no-op.
func testAuditBatch(t *testing.T, s store.Store) {
	b := s
	must(t, b.AppendEvents(ctxBG, nil))
	must(t, b.AppendEvents(ctxBG, []store.Event{}))
	ev := func(sec int, actor, action, sc string) store.Event {
		return store.Event{Time: t0.Add(time.Duration(sec) * time.Second), Actor: actor, Action: action, Scope: sc,
			Key: "k" + actor, Remote: "10.0.0.1:99", Allowed: actor != "", ErrorCode: map[bool]string{true: "", false: "UNAUTHENTICATED"}[actor != ""]}
	}
	must(t, s.AppendEvent(ctxBG, ev(3, "carol", "secrets.list", "prod")))
	// Out of time order, and several at one instant.
	batch := []store.Event{
		ev(3, "alice", "secrets.get", "Prod"),
		ev(1, "bob", "secrets.put", "prod"),
		ev(3, "", "secrets.get", "dev"),
		ev(3, "bob", "acls.put", "dev"),
		ev(5, "alice", "secrets.delete", "prod"),
	}
	must(t, b.AppendEvents(ctxBG, batch))
	must(t, s.AppendEvent(ctxBG, ev(3, "dave", "secrets.get", "PROD")))
	desc := func(l []store.Event) []string {
		var out []string
		for _, e := range l {
			out = append(out, fmt.Sprintf("%d/%s/%s/%s", e.Time.Sub(norm(t0))/time.Second, e.Actor, e.Action, e.Scope))
		}
		return out
	}
	l, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	// Same instant: insertion order, the batch in slice order between the single appends.
	eq(t, "all events", desc(l), []string{"1/bob/secrets.put/prod", "3/carol/secrets.list/prod",
		"3/alice/secrets.get/Prod", "3//secrets.get/dev", "3/bob/acls.put/dev", "3/dave/secrets.get/PROD", "5/alice/secrets.delete/prod"})
	got, want := l[3], batch[2]
	sameTime(t, "batched event Time", got.Time, want.Time)
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("batched event = %+v, want %+v", got, want)
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "prod", Limit: 3})
	must(t, err)
	eq(t, "scope + limit", desc(l), []string{"3/alice/secrets.get/Prod", "3/dave/secrets.get/PROD", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "bob", Since: t0.Add(2 * time.Second)})
	must(t, err)
	eq(t, "actor + since", desc(l), []string{"3/bob/acls.put/dev"})

	// A canceled context stores nothing of the batch.
	ctx, cancel := context.WithCancel(ctxBG)
	cancel()
	if err := b.AppendEvents(ctx, []store.Event{ev(9, "eve", "secrets.get", "x"), ev(9, "eve", "secrets.put", "x")}); err == nil {
		t.Fatal("AppendEvents with a canceled context succeeded")
	}
	// A batch larger than a server batch, in one call.
	big := make([]store.Event, 1000)
	for i := range big {
		big[i] = store.Event{Time: t0.Add(time.Hour), Actor: fmt.Sprint(i), Action: "secrets.get", Scope: "big", Allowed: true}
	}
	must(t, b.AppendEvents(ctxBG, big))
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "big"})
	must(t, err)
	if len(l) != len(big) {
		t.Fatalf("big batch: %d events stored, want %d", len(l), len(big))
	}
	for i, e := range l {
		if e.Actor != fmt.Sprint(i) {
			t.Fatalf("big batch: event %d is actor %q, want %d (slice order)", i, e.Actor, i)
		}
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "eve"})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("canceled batch left events: %v", desc(l))
	}
}

// ---- meta ----

func testMeta(t *testing.T, s store.Store) {
	_, err := s.GetMeta(ctxBG, "seal/datakey")
	wantErr(t, "GetMeta missing", err, store.ErrNotFound)
	v, err := s.InitMeta(ctxBG, "seal/datakey", []byte("first"))
	must(t, err)
	if string(v) != "first" {
		t.Fatalf("InitMeta = %q", v)
	}
	v, err = s.InitMeta(ctxBG, "seal/datakey", []byte("second"))
	must(t, err)
	if string(v) != "first" {
		t.Fatalf("second InitMeta = %q, want the first value", v)
	}
	must(t, s.PutMeta(ctxBG, "seal/datakey", []byte{0, 1, 2, 0xff}))
	v, err = s.GetMeta(ctxBG, "seal/datakey")
	must(t, err)
	if !bytes.Equal(v, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("GetMeta after PutMeta = %x", v)
	}
	must(t, s.PutMeta(ctxBG, "other", []byte("x")))
	v, err = s.InitMeta(ctxBG, "other", []byte("y"))
	must(t, err)
	if string(v) != "x" {
		t.Fatalf("InitMeta after PutMeta = %q", v)
	}
}

// ---- canceled context ----

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

// ---- concurrency ----

// testConcurrent races writers (spread over a and b, which may be the same
// store) at the limits: the limits hold exactly, and no write is lost.
func testConcurrent(t *testing.T, a, b store.Store) {
	const (
		workers   = 8
		perWorker = 6
		maxScopes = 20
		maxSecret = 25
	)
	pick := func(i int) store.Store {
		if i%2 == 0 {
			return a
		}
		return b
	}
	run := func(fn func(w, i int)) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					fn(w, i)
				}
			}()
		}
		wg.Wait()
	}

	// Scopes: 48 distinct creates against a limit of 20, plus every worker
	// racing to create the same name "shared".
	var created, limited, sharedOK atomic.Int32
	run(func(w, i int) {
		s := pick(w)
		switch err := s.CreateScope(ctxBG, scope(fmt.Sprintf("w%d-s%d", w, i)), nil, maxScopes); {
		case err == nil:
			created.Add(1)
		case errors.Is(err, store.ErrLimit):
			limited.Add(1)
		default:
			t.Errorf("CreateScope: %v", err)
		}
		if i == 0 {
			err := s.CreateScope(ctxBG, scope([]string{"shared", "SHARED", "Shared"}[w%3]), nil, 0)
			if err == nil {
				sharedOK.Add(1)
			} else if !errors.Is(err, store.ErrExists) {
				t.Errorf("CreateScope shared: %v", err)
			}
		}
	})
	if sharedOK.Load() != 1 {
		t.Fatalf("%d racing creates of one scope succeeded, want exactly 1", sharedOK.Load())
	}
	l, err := a.ListScopes(ctxBG)
	must(t, err)
	// "shared" was created without a limit, so it may take a slot before or after.
	limitedScopes := len(l) - 1
	if limitedScopes > maxScopes || int(created.Load()) != limitedScopes || int(created.Load()+limited.Load()) != workers*perWorker {
		t.Fatalf("scopes: %d listed (+shared), %d created, %d limited; limit %d", limitedScopes, created.Load(), limited.Load(), maxScopes)
	}
	if limitedScopes < maxScopes-1 {
		t.Fatalf("only %d scopes created under a limit of %d with %d attempts", limitedScopes, maxScopes, workers*perWorker)
	}

	// Secrets: 48 distinct keys into one scope with a limit of 25, while
	// other workers overwrite one existing key (never limited).
	createScope(t, a, "lim")
	must(t, a.PutSecret(ctxBG, store.Secret{Scope: "lim", Key: "hot", Sealed: []byte("0"), UpdatedAt: t0}, maxSecret))
	var stored, refused atomic.Int32
	run(func(w, i int) {
		s := pick(w + i)
		err := s.PutSecret(ctxBG, store.Secret{Scope: "LIM", Key: fmt.Sprintf("k-%d-%d", w, i), Sealed: []byte("v"), UpdatedAt: t0}, maxSecret)
		switch {
		case err == nil:
			stored.Add(1)
		case errors.Is(err, store.ErrLimit):
			refused.Add(1)
		default:
			t.Errorf("PutSecret: %v", err)
		}
		if err := s.PutSecret(ctxBG, store.Secret{Scope: "lim", Key: "hot", Sealed: []byte(fmt.Sprint(w)), UpdatedAt: t0}, maxSecret); err != nil {
			t.Errorf("overwrite at the limit: %v", err)
		}
	})
	keys, err := b.ListSecrets(ctxBG, "lim")
	must(t, err)
	if len(keys) != maxSecret || int(stored.Load()) != maxSecret-1 || int(refused.Load()) != workers*perWorker-(maxSecret-1) {
		t.Fatalf("secrets: %d listed, %d stored, %d refused; limit %d", len(keys), stored.Load(), refused.Load(), maxSecret)
	}

	// No lost updates: distinct writes without a limit, from both replicas, all land.
	createScope(t, a, "bulk")
	run(func(w, i int) {
		s := pick(w)
		if err := s.PutSecret(ctxBG, store.Secret{Scope: "bulk", Key: fmt.Sprintf("k-%d-%d", w, i), Sealed: []byte{byte(w), byte(i)}, UpdatedAt: t0}, 0); err != nil {
			t.Errorf("PutSecret bulk: %v", err)
		}
		if err := s.AppendEvent(ctxBG, store.Event{Time: t0, Actor: fmt.Sprint(w), Action: "secrets.put", Scope: "bulk"}); err != nil {
			t.Errorf("AppendEvent: %v", err)
		}
	})
	keys, err = a.ListSecrets(ctxBG, "bulk")
	must(t, err)
	if len(keys) != workers*perWorker {
		t.Fatalf("bulk: %d secrets, want %d", len(keys), workers*perWorker)
	}
	for w := range workers {
		for i := range perWorker {
			sec, err := b.GetSecret(ctxBG, "bulk", fmt.Sprintf("k-%d-%d", w, i))
			must(t, err)
			if !bytes.Equal(sec.Sealed, []byte{byte(w), byte(i)}) {
				t.Fatalf("bulk k-%d-%d = %x", w, i, sec.Sealed)
			}
		}
	}
	evs, err := b.ListEvents(ctxBG, store.AuditFilter{Scope: "bulk"})
	must(t, err)
	if len(evs) != workers*perWorker {
		t.Fatalf("%d audit events, want %d", len(evs), workers*perWorker)
	}

	// InitMeta race: everyone agrees on one value.
	vals := make([][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := pick(w).InitMeta(ctxBG, "race", []byte(fmt.Sprintf("value-%d", w)))
			if err != nil {
				t.Errorf("InitMeta: %v", err)
			}
			vals[w] = v
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if !bytes.Equal(vals[w], vals[0]) {
			t.Fatalf("InitMeta race: %q vs %q", vals[0], vals[w])
		}
	}
	stored2, err := a.GetMeta(ctxBG, "race")
	must(t, err)
	if !bytes.Equal(stored2, vals[0]) {
		t.Fatalf("InitMeta returned %q but %q is stored", vals[0], stored2)
	}
}
