package storetest

import (
	"testing"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

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
