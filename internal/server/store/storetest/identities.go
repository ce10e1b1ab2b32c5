package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
)

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
	_, err = s.DeleteUser(ctxBG, "u99")
	wantErr(t, "DeleteUser missing", err, store.ErrNotFound)
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

	_, err = s.DeleteGroup(ctxBG, "g1")
	must(t, err)
	_, err = s.GetGroup(ctxBG, "g1")
	wantErr(t, "GetGroup deleted", err, store.ErrNotFound)
	_, err = s.GetGroupByName(ctxBG, "admins")
	wantErr(t, "GetGroupByName deleted", err, store.ErrNotFound)
	_, err = s.DeleteGroup(ctxBG, "g1")
	wantErr(t, "DeleteGroup twice", err, store.ErrNotFound)
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

	_, err := s.DeleteUser(ctxBG, "u1")
	must(t, err)
	_, err = s.GetUser(ctxBG, "u1")
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
