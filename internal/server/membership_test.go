package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

const scimGroups = "/api/2.0/preview/scim/v2/Groups"
const scimUsers = "/api/2.0/preview/scim/v2/Users"

// groupMembers reads a group's member IDs through SCIM.
func groupMembers(t *testing.T, s *servertest.Server, id string) []string {
	t.Helper()
	r := must(t, call(t, s.URL, "GET", scimGroups+"/"+id, s.AdminToken, nil))
	var out []string
	ms, _ := r.body["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	slices.Sort(out)
	return out
}

// parallel runs f(i) for i in [0, n) at once and waits for all of them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// TestConcurrentMembership: parallel SCIM PATCH adds and removes on one
// group are all applied; none overwrites another (issue 13, item 2).
func TestConcurrentMembership(t *testing.T) {
	eachStore(t, servertest.Options{}, testConcurrentMembership)
}

func testConcurrentMembership(t *testing.T, s *servertest.Server) {
	const n = 20
	var stay, leave, join []string
	for i := range n {
		stay = append(stay, s.CreateUser(t, fmt.Sprintf("stay%d@example.com", i)).ID)
		leave = append(leave, s.CreateUser(t, fmt.Sprintf("leave%d@example.com", i)).ID)
		join = append(join, s.CreateUser(t, fmt.Sprintf("join%d@example.com", i)).ID)
	}
	g := s.CreateGroup(t, "team")
	scimAdd := func(id string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}}}
	}
	scimRemove := func(id string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}}}
	}
	errs := make(chan string, 4*n)
	patch := func(body map[string]any) {
		if r := call(t, s.URL, "PATCH", scimGroups+"/"+g.ID, s.AdminToken, body); r.status != http.StatusOK {
			errs <- r.raw
		}
	}
	parallel(2*n, func(i int) {
		if i < n {
			patch(scimAdd(stay[i]))
		} else {
			patch(scimAdd(leave[i-n]))
		}
	})
	want := slices.Sorted(slices.Values(append(slices.Clone(stay), leave...)))
	if got := groupMembers(t, s, g.ID); !slices.Equal(got, want) {
		t.Fatalf("after %d parallel adds the group has %d of %d members", 2*n, len(got), len(want))
	}
	// Removals racing with additions: every acknowledged change holds.
	parallel(2*n, func(i int) {
		if i < n {
			patch(scimRemove(leave[i]))
		} else {
			patch(scimAdd(join[i-n]))
		}
	})
	close(errs)
	for e := range errs {
		t.Errorf("PATCH failed: %s", e)
	}
	want = slices.Sorted(slices.Values(append(slices.Clone(stay), join...)))
	if got := groupMembers(t, s, g.ID); !slices.Equal(got, want) {
		t.Fatalf("after parallel removes and adds: %d members, want %d (lost: %v)", len(got), len(want), missing(want, got))
	}
}

// missing returns the elements of want not in got, and those of got not in want.
func missing(want, got []string) string {
	var lost, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			lost = append(lost, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("lost %v, extra %v", lost, extra)
}

func scimPatch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

// TestBuiltinGroupsAndLastAdmin: no route renames or deletes a built-in
// group, and the last active admin cannot be removed, deactivated or
// deleted (issue 13, item 5).
func TestBuiltinGroupsAndLastAdmin(t *testing.T) {
	eachStore(t, servertest.Options{}, testBuiltinGroupsAndLastAdmin)
}

func testBuiltinGroupsAndLastAdmin(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	admins := s.CreateGroup(t, "admins")
	path := scimGroups + "/" + admins.ID
	for _, body := range []map[string]any{
		scimPatch(map[string]any{"op": "replace", "path": "displayName", "value": "former"}),
		scimPatch(map[string]any{"op": "replace", "value": map[string]any{"displayName": "former"}}),
	} {
		expect(t, call(t, s.URL, "PATCH", path, tok, body), 400, "INVALID_PARAMETER_VALUE", "")
	}
	expect(t, call(t, s.URL, "PUT", path, tok, map[string]any{"displayName": "former", "members": []any{map[string]any{"value": s.Admin.ID}}}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "DELETE", path, tok, nil), 400, "INVALID_PARAMETER_VALUE", "")
	if g := must(t, call(t, s.URL, "GET", path, tok, nil)); g.body["displayName"] != "admins" {
		t.Fatalf("admins group renamed: %s", g.raw)
	}

	// The bootstrap admin is the only admin: it cannot leave or be switched off.
	self := scimUsers + "/" + s.Admin.ID
	expect(t, call(t, s.URL, "PATCH", path, tok, scimPatch(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", s.Admin.ID)})), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "PATCH", path, tok, scimPatch(map[string]any{"op": "replace", "path": "members", "value": []any{}})), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "PATCH", self, tok, scimPatch(map[string]any{"op": "replace", "path": "active", "value": false})), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "PUT", self, tok, map[string]any{"userName": "admin", "active": false}), 400, "INVALID_PARAMETER_VALUE", "")
	must(t, call(t, s.URL, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil))

	// An inactive second admin does not count.
	other := s.CreateUser(t, "second@example.com", "admins")
	must(t, call(t, s.URL, "PATCH", scimUsers+"/"+other.ID, tok, scimPatch(map[string]any{"op": "replace", "path": "active", "value": false})))
	expect(t, call(t, s.URL, "PATCH", self, tok, scimPatch(map[string]any{"op": "replace", "path": "active", "value": false})), 400, "INVALID_PARAMETER_VALUE", "")
	must(t, call(t, s.URL, "PATCH", scimUsers+"/"+other.ID, tok, scimPatch(map[string]any{"op": "replace", "path": "active", "value": true})))

	// Two admins removing each other at once: one admin stays.
	var codes [2]int
	parallel(2, func(i int) {
		tokens := []string{tok, other.Token}
		victim := []string{other.ID, s.Admin.ID}[i]
		codes[i] = call(t, s.URL, "PATCH", path, tokens[i], scimPatch(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", victim)})).status
	})
	if n := len(groupMembers(t, s, admins.ID)); n != 1 {
		t.Fatalf("after two admins removed each other (answers %v) the admins group has %d members", codes, n)
	}
}

// TestPrincipalNamesAndACLs: a user and a group never share a name, and
// deleting one deletes its ACLs, counted in the audit record (issue 13, item 6).
func TestPrincipalNamesAndACLs(t *testing.T) {
	eachStore(t, servertest.Options{}, testPrincipalNamesAndACLs)
}

func testPrincipalNamesAndACLs(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	eng := must(t, call(t, s.URL, "POST", scimGroups, tok, map[string]any{"displayName": "eng"}))
	engID := eng.body["id"].(string)
	expect(t, call(t, s.URL, "POST", scimUsers, tok, map[string]any{"userName": "eng"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	alice := must(t, call(t, s.URL, "POST", scimUsers, tok, map[string]any{"userName": "alice@example.com"}))
	aliceID := alice.body["id"].(string)
	expect(t, call(t, s.URL, "POST", scimGroups, tok, map[string]any{"displayName": "alice@example.com"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "PATCH", scimUsers+"/"+aliceID, tok, scimPatch(map[string]any{"op": "replace", "path": "userName", "value": "eng"})), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "PATCH", scimGroups+"/"+engID, tok, scimPatch(map[string]any{"op": "replace", "path": "displayName", "value": "alice@example.com"})), 409, "RESOURCE_ALREADY_EXISTS", "")

	// ACLs for alice and for eng on a scope with a secret.
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/scopes/create", tok, map[string]any{"scope": "app"}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/put", tok, map[string]any{"scope": "app", "key": "k", "string_value": "v"}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/acls/put", tok, map[string]any{"scope": "app", "principal": "alice@example.com", "permission": "READ"}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/acls/put", tok, map[string]any{"scope": "app", "principal": "eng", "permission": "READ"}))
	must(t, call(t, s.URL, "DELETE", scimUsers+"/"+aliceID, tok, nil))
	must(t, call(t, s.URL, "DELETE", scimGroups+"/"+engID, tok, nil))

	// A new alice and a new eng inherit nothing.
	newAlice := s.CreateUser(t, "alice@example.com")
	bob := s.CreateUser(t, "bob@example.com")
	s.CreateGroup(t, "eng", "bob@example.com")
	for _, u := range []servertest.User{newAlice, bob} {
		expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", u.Token, nil, "scope", "app", "key", "k"), 403, "PERMISSION_DENIED", "")
	}
	r := must(t, call(t, s.URL, "GET", "/api/2.0/secrets/acls/list", tok, nil, "scope", "app"))
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Fatalf("ACLs left on the scope: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", "/api/2.0/hush/audit", tok, nil))
	var seen []string
	for _, e := range r.body["events"].([]any) {
		ev := e.(map[string]any)
		if a := ev["action"].(string); a == "users.delete" || a == "groups.delete" {
			seen = append(seen, fmt.Sprintf("%s %v: %v", a, ev["key"], ev["detail"]))
		}
	}
	// Each deletion is audited before it is applied (audit fails closed),
	// then its outcome with the number of ACLs it took along.
	want := []string{
		"users.delete alice@example.com: <nil>", "users.delete alice@example.com: 1 ACL deleted",
		"groups.delete eng: <nil>", "groups.delete eng: 1 ACL deleted",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("audit records of the deletions = %q, want %q", seen, want)
	}
}

// TestRenameKeepsACLs: ACLs follow a renamed user or group, so a new
// principal given the old name inherits nothing (issue 13, item 6).
func TestRenameKeepsACLs(t *testing.T) { eachStore(t, servertest.Options{}, testRenameKeepsACLs) }

func testRenameKeepsACLs(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	alice := s.CreateUser(t, "alice@example.com")
	bob := s.CreateUser(t, "bob@example.com")
	eng := s.CreateGroup(t, "eng", "bob@example.com")
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/scopes/create", tok, map[string]any{"scope": "app"}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/put", tok, map[string]any{"scope": "app", "key": "k", "string_value": "v"}))
	for _, p := range []string{"alice@example.com", "eng"} {
		must(t, call(t, s.URL, "POST", "/api/2.0/secrets/acls/put", tok, map[string]any{"scope": "app", "principal": p, "permission": "READ"}))
	}
	must(t, call(t, s.URL, "PATCH", scimUsers+"/"+alice.ID, tok, scimPatch(map[string]any{"op": "replace", "path": "userName", "value": "alice2@example.com"})))
	must(t, call(t, s.URL, "PATCH", scimGroups+"/"+eng.ID, tok, scimPatch(map[string]any{"op": "replace", "path": "displayName", "value": "engineering"})))
	for _, u := range []servertest.User{alice, bob} {
		must(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", u.Token, nil, "scope", "app", "key", "k"))
	}
	newAlice := s.CreateUser(t, "alice@example.com")
	carol := s.CreateUser(t, "carol@example.com")
	s.CreateGroup(t, "eng", "carol@example.com")
	for _, u := range []servertest.User{newAlice, carol} {
		expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", u.Token, nil, "scope", "app", "key", "k"), 403, "PERMISSION_DENIED", "")
	}
	r := must(t, call(t, s.URL, "GET", "/api/2.0/secrets/acls/list", tok, nil, "scope", "app"))
	for _, want := range []string{`"principal":"alice2@example.com"`, `"principal":"engineering"`} {
		if !strings.Contains(r.raw, want) {
			t.Fatalf("ACLs after renames lack %s: %s", want, r.raw)
		}
	}
}
