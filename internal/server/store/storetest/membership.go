package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// RunIdentityRules runs the part of the suite about identity writes that
// span rows: atomic group and user edits under concurrency, the shared
// namespace of user and group names, the admins group's last active
// member, and ACLs deleted with their principal.
func RunIdentityRules(t *testing.T, open Opener) {
	t.Run("EditGroupConcurrent", func(t *testing.T) {
		s := open(t)
		testEditGroupConcurrent(t, s, s)
	})
	t.Run("EditUserConcurrent", func(t *testing.T) { testEditUserConcurrent(t, open(t)) })
	t.Run("EditErrors", func(t *testing.T) { testEditErrors(t, open(t)) })
	t.Run("PrincipalNames", func(t *testing.T) { testPrincipalNames(t, open(t)) })
	t.Run("LastAdmin", func(t *testing.T) { testLastAdmin(t, open(t)) })
	t.Run("DeletePrincipalACLs", func(t *testing.T) { testDeletePrincipalACLs(t, open(t)) })
	t.Run("ServicePrincipalFlag", func(t *testing.T) { testServicePrincipalFlag(t, open(t)) })
	t.Run("AuditDetail", func(t *testing.T) { testAuditDetail(t, open(t)) })
	t.Run("RenameMovesACLs", func(t *testing.T) { testRenameMovesACLs(t, open(t)) })
	t.Run("GrantACL", func(t *testing.T) { testGrantACL(t, open(t)) })
}

// testGrantACL: GrantACL needs an existing principal, and racing the
// principal's deletion never leaves an ACL behind.
func testGrantACL(t *testing.T, s store.Store) {
	createScope(t, s, "app")
	read := func(p string) secrets.ACL { return secrets.ACL{Principal: p, Permission: secrets.Read} }
	wantErr(t, "GrantACL to nobody", s.GrantACL(ctxBG, "app", read("ghost")), store.ErrNoPrincipal)
	wantErr(t, "GrantACL on a missing scope", s.GrantACL(ctxBG, "nope", read(store.AllUsersGroup)), store.ErrNotFound)
	for _, p := range []string{store.AllUsersGroup, store.AdminGroup} {
		must(t, s.GrantACL(ctxBG, "app", read(p)))
	}
	must(t, s.CreateUser(ctxBG, user("u1", "alice")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "eng"}))
	must(t, s.GrantACL(ctxBG, "app", read("alice")))
	must(t, s.GrantACL(ctxBG, "app", secrets.ACL{Principal: "eng", Permission: secrets.Manage}))
	a, err := s.GetACL(ctxBG, "app", "eng")
	must(t, err)
	if a.Permission != secrets.Manage {
		t.Fatalf("granted ACL = %v", a.Permission)
	}
	for i := range 20 {
		name := fmt.Sprintf("racer%d", i)
		must(t, s.CreateUser(ctxBG, user("r"+name, name)))
		_ = hammer(2, func(j int) error {
			if j == 0 {
				if _, err := s.DeleteUser(ctxBG, "r"+name); err != nil {
					t.Errorf("DeleteUser racing GrantACL: %v", err)
				}
				return nil
			}
			if err := s.GrantACL(ctxBG, "app", read(name)); err != nil && !errors.Is(err, store.ErrNoPrincipal) {
				t.Errorf("GrantACL racing DeleteUser: %v", err)
			}
			return nil
		})
		if _, err := s.GetACL(ctxBG, "app", name); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an ACL of deleted user %s survived a racing grant (err %v)", name, err)
		}
	}
}

// testRenameMovesACLs: renaming a user or group moves its ACLs to the new
// name, on every scope, replacing a stale ACL of the new name.
func testRenameMovesACLs(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("u1", "alice")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "eng"}))
	read := secrets.ACL{Principal: "alice", Permission: secrets.Read}
	createScope(t, s, "one", read, secrets.ACL{Principal: "eng", Permission: secrets.Write}, secrets.ACL{Principal: "alice2", Permission: secrets.Manage})
	createScope(t, s, "two", read)
	_, err := s.EditUser(ctxBG, "u1", func(u *store.User) error { u.UserName = "alice2"; return nil })
	must(t, err)
	must(t, s.UpdateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "engineering"}))
	for _, sc := range []string{"one", "two"} {
		a, err := s.GetACL(ctxBG, sc, "alice2")
		must(t, err)
		if a.Permission != secrets.Read {
			t.Fatalf("scope %s: renamed user's ACL is %v, want READ", sc, a.Permission)
		}
		_, err = s.GetACL(ctxBG, sc, "alice")
		wantErr(t, "ACL under the old user name", err, store.ErrNotFound)
	}
	a, err := s.GetACL(ctxBG, "one", "engineering")
	must(t, err)
	if a.Permission != secrets.Write {
		t.Fatalf("renamed group's ACL is %v, want WRITE", a.Permission)
	}
	_, err = s.GetACL(ctxBG, "one", "eng")
	wantErr(t, "ACL under the old group name", err, store.ErrNotFound)
}

// testAuditDetail: an event's Detail round-trips through both append paths.
func testAuditDetail(t *testing.T, s store.Store) {
	must(t, s.AppendEvent(ctxBG, store.Event{Time: t0, Action: "users.delete", Key: "a", Allowed: true, Detail: "1 ACL deleted"}))
	must(t, s.AppendEvents(ctxBG, []store.Event{{Time: t0, Action: "groups.delete", Key: "g", Allowed: true, Detail: "2 ACLs deleted"}}))
	l, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	if len(l) != 2 || l[0].Detail != "1 ACL deleted" || l[1].Detail != "2 ACLs deleted" {
		t.Fatalf("events = %+v", l)
	}
}

// hammer runs f(i) for i in [0, n) at once and returns the first error.
func hammer(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := f(i); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return <-errs
}

// testEditGroupConcurrent: 20 parallel additions, then 20 parallel removals
// racing 20 additions, on one group, spread over a and b (two replicas of
// one database, or one store twice): every one of them holds.
func testEditGroupConcurrent(t *testing.T, a, b store.Store) {
	const n = 20
	must(t, a.CreateGroup(ctxBG, store.Group{ID: "g", DisplayName: "team", CreatedAt: t0}))
	id := func(kind string, i int) string { return fmt.Sprintf("%s%02d", kind, i) }
	via := func(i int) store.Store { return []store.Store{a, b}[i%2] }
	add := func(i int, m string) error {
		_, err := via(i).EditGroup(ctxBG, "g", func(g *store.Group) error { g.AddMembers(m); return nil })
		return err
	}
	s := a
	must(t, hammer(2*n, func(i int) error {
		if i < n {
			return add(i, id("stay", i))
		}
		return add(i, id("leave", i-n))
	}))
	must(t, hammer(2*n, func(i int) error {
		if i < n {
			_, err := via(i).EditGroup(ctxBG, "g", func(g *store.Group) error { g.RemoveMembers(id("leave", i)); return nil })
			return err
		}
		return add(i, id("join", i-n))
	}))
	var want []string
	for i := range n {
		want = append(want, id("stay", i), id("join", i))
	}
	slices.Sort(want)
	g, err := s.GetGroup(ctxBG, "g")
	must(t, err)
	got := slices.Sorted(slices.Values(g.Members))
	eq(t, "members after concurrent edits", got, want)
}

// testEditUserConcurrent: edits of different fields of one user, in
// parallel, do not undo each other.
func testEditUserConcurrent(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("u1", "u1@example.com")))
	must(t, hammer(20, func(i int) error {
		_, err := s.EditUser(ctxBG, "u1", func(u *store.User) error {
			if i%2 == 0 {
				u.Active = false
			} else {
				u.DisplayName = "Renamed"
			}
			return nil
		})
		return err
	}))
	u, err := s.GetUser(ctxBG, "u1")
	must(t, err)
	if u.Active || u.DisplayName != "Renamed" || u.UserName != "u1@example.com" {
		t.Fatalf("after concurrent edits: active %v, display name %q, user name %q", u.Active, u.DisplayName, u.UserName)
	}
}

// testEditErrors: an edit's error aborts the write; unknown IDs are
// ErrNotFound; the edited value is returned as stored.
func testEditErrors(t *testing.T, s store.Store) {
	_, err := s.EditGroup(ctxBG, "nope", func(*store.Group) error { return nil })
	wantErr(t, "EditGroup missing", err, store.ErrNotFound)
	_, err = s.EditUser(ctxBG, "nope", func(*store.User) error { return nil })
	wantErr(t, "EditUser missing", err, store.ErrNotFound)
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "one", Members: []string{"a"}, CreatedAt: t0}))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "two", CreatedAt: t0}))
	boom := errors.New("boom")
	_, err = s.EditGroup(ctxBG, "g1", func(g *store.Group) error { g.Members = nil; return boom })
	wantErr(t, "EditGroup with failing edit", err, boom)
	_, err = s.EditGroup(ctxBG, "g1", func(g *store.Group) error { g.DisplayName = "two"; return nil })
	wantErr(t, "EditGroup to a taken name", err, store.ErrExists)
	g, err := s.EditGroup(ctxBG, "g1", func(g *store.Group) error { g.AddMembers("b", "a"); g.DisplayName = "uno"; return nil })
	must(t, err)
	sameTime(t, "edited group CreatedAt", g.CreatedAt, t0)
	if g.ID != "g1" || g.DisplayName != "uno" || !slices.Equal(g.Members, []string{"a", "b"}) {
		t.Fatalf("EditGroup returned %+v", g)
	}
	stored, err := s.GetGroup(ctxBG, "g1")
	must(t, err)
	if stored.DisplayName != "uno" || !slices.Equal(stored.Members, g.Members) {
		t.Fatalf("stored after EditGroup: %+v", stored)
	}
	must(t, s.CreateUser(ctxBG, user("u1", "one@example.com")))
	must(t, s.CreateUser(ctxBG, user("u2", "two@example.com")))
	_, err = s.EditUser(ctxBG, "u1", func(u *store.User) error { u.UserName = "two@example.com"; return nil })
	wantErr(t, "EditUser to a taken name", err, store.ErrExists)
	_, err = s.EditUser(ctxBG, "u1", func(u *store.User) error { u.Active = false; return boom })
	wantErr(t, "EditUser with failing edit", err, boom)
	u, err := s.GetUser(ctxBG, "u1")
	must(t, err)
	if !u.Active {
		t.Fatal("a failed EditUser changed the user")
	}
}

// testPrincipalNames: users and groups share one namespace.
func testPrincipalNames(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("u1", "eng")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "ops"}))
	wantErr(t, "CreateGroup named like a user", s.CreateGroup(ctxBG, store.Group{ID: "g2", DisplayName: "eng"}), store.ErrExists)
	wantErr(t, "CreateUser named like a group", s.CreateUser(ctxBG, user("u2", "ops")), store.ErrExists)
	wantErr(t, "UpdateUser to a group's name", s.UpdateUser(ctxBG, user("u1", "ops")), store.ErrExists)
	wantErr(t, "UpdateGroup to a user's name", s.UpdateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "eng"}), store.ErrExists)
	_, err := s.EditGroup(ctxBG, "g1", func(g *store.Group) error { g.DisplayName = "eng"; return nil })
	wantErr(t, "EditGroup to a user's name", err, store.ErrExists)
	// Racing creations of a user and a group of one name: exactly one wins.
	for i := range 10 {
		name := fmt.Sprintf("race%d", i)
		var won [2]bool
		_ = hammer(2, func(j int) error {
			var err error
			if j == 0 {
				err = s.CreateUser(ctxBG, user("ru"+name, name))
			} else {
				err = s.CreateGroup(ctxBG, store.Group{ID: "rg" + name, DisplayName: name})
			}
			won[j] = err == nil
			if err != nil && !errors.Is(err, store.ErrExists) {
				t.Errorf("racing create %s: %v", name, err)
			}
			return nil
		})
		if won[0] == won[1] {
			t.Fatalf("racing user and group named %s: user created %v, group created %v", name, won[0], won[1])
		}
	}
}

// testLastAdmin: no write takes the admins group from an active member to none.
func testLastAdmin(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("a1", "a1@example.com")))
	must(t, s.CreateUser(ctxBG, user("a2", "a2@example.com")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "adm", DisplayName: store.AdminGroup, Members: []string{"a1", "a2"}}))
	// Two admins removing each other at once: one of them stays.
	err := hammer(2, func(i int) error {
		other := []string{"a2", "a1"}[i]
		_, err := s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.RemoveMembers(other); return nil })
		if err != nil && !errors.Is(err, store.ErrLastAdmin) {
			return err
		}
		return nil
	})
	must(t, err)
	g, err := s.GetGroup(ctxBG, "adm")
	must(t, err)
	if len(g.Members) != 1 {
		t.Fatalf("admins after racing removals: %v", g.Members)
	}
	last := g.Members[0]
	_, err = s.EditUser(ctxBG, last, func(u *store.User) error { u.Active = false; return nil })
	wantErr(t, "deactivate the last admin", err, store.ErrLastAdmin)
	off := user(last, last+"@example.com")
	off.Active = false
	wantErr(t, "UpdateUser deactivating the last admin", s.UpdateUser(ctxBG, off), store.ErrLastAdmin)
	_, err = s.DeleteUser(ctxBG, last)
	wantErr(t, "delete the last admin", err, store.ErrLastAdmin)
	_, err = s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.Members = nil; return nil })
	wantErr(t, "empty the admins group", err, store.ErrLastAdmin)
	_, err = s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.DisplayName = "former-admins"; return nil })
	wantErr(t, "rename the admins group", err, store.ErrLastAdmin)
	_, err = s.DeleteGroup(ctxBG, "adm")
	wantErr(t, "delete the admins group", err, store.ErrLastAdmin)
	u, err := s.GetUser(ctxBG, last)
	must(t, err)
	if !u.Active {
		t.Fatal("a refused write deactivated the last admin")
	}
	// With another active admin, the first one can go.
	must(t, s.CreateUser(ctxBG, user("a3", "a3@example.com")))
	_, err = s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.AddMembers("a3"); return nil })
	must(t, err)
	_, err = s.DeleteUser(ctxBG, last)
	must(t, err)
	// An inactive member does not count as an admin.
	must(t, s.CreateUser(ctxBG, store.User{ID: "a4", UserName: "a4@example.com"}))
	_, err = s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.AddMembers("a4"); return nil })
	must(t, err)
	_, err = s.EditGroup(ctxBG, "adm", func(g *store.Group) error { g.RemoveMembers("a3"); return nil })
	wantErr(t, "leave only an inactive admin", err, store.ErrLastAdmin)
}

// testDeletePrincipalACLs: deleting a user or group deletes the ACLs that
// name it, on every scope, and says how many.
func testDeletePrincipalACLs(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctxBG, user("u1", "alice@example.com")))
	must(t, s.CreateUser(ctxBG, user("u2", "bob@example.com")))
	must(t, s.CreateGroup(ctxBG, store.Group{ID: "g1", DisplayName: "eng"}))
	acl := func(p string, perm secrets.Permission) secrets.ACL {
		return secrets.ACL{Principal: p, Permission: perm}
	}
	createScope(t, s, "one", acl("alice@example.com", secrets.Read), acl("eng", secrets.Write), acl("bob@example.com", secrets.Manage))
	createScope(t, s, "two", acl("alice@example.com", secrets.Manage), acl("eng", secrets.Read))
	createScope(t, s, "three")
	n, err := s.DeleteUser(ctxBG, "u1")
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteUser removed %d ACLs, want 2", n)
	}
	n, err = s.DeleteGroup(ctxBG, "g1")
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteGroup removed %d ACLs, want 2", n)
	}
	for _, sc := range []string{"one", "two", "three"} {
		l, err := s.ListACLs(ctxBG, sc)
		must(t, err)
		for _, a := range l {
			if a.Principal != "bob@example.com" {
				t.Fatalf("scope %s keeps an ACL for deleted principal %s", sc, a.Principal)
			}
		}
	}
	_, err = s.GetACL(ctxBG, "one", "bob@example.com")
	must(t, err)
	// A new user of the old name inherits nothing.
	must(t, s.CreateUser(ctxBG, user("u3", "alice@example.com")))
	_, err = s.GetACL(ctxBG, "two", "alice@example.com")
	wantErr(t, "ACL of a new user named like a deleted one", err, store.ErrNotFound)
}

// testServicePrincipalFlag: the flag round-trips through create, edit and list.
func testServicePrincipalFlag(t *testing.T, s store.Store) {
	sp := user("sp1", "6f1c2a3e-0000-4000-8000-000000000001")
	sp.ServicePrincipal = true
	must(t, s.CreateUser(ctxBG, sp))
	must(t, s.CreateUser(ctxBG, user("u1", "alice@example.com")))
	got, err := s.GetUserByName(ctxBG, sp.UserName)
	must(t, err)
	if !got.ServicePrincipal {
		t.Fatal("service principal flag lost on create")
	}
	got, err = s.EditUser(ctxBG, "sp1", func(u *store.User) error { u.DisplayName = "ci"; return nil })
	must(t, err)
	if !got.ServicePrincipal {
		t.Fatal("service principal flag lost on edit")
	}
	l, err := s.ListUsers(ctxBG)
	must(t, err)
	for _, u := range l {
		if u.ServicePrincipal != (u.ID == "sp1") {
			t.Fatalf("ListUsers: %s has service principal flag %v", u.ID, u.ServicePrincipal)
		}
	}
}
