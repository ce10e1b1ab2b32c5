package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

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
