package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

// TestGroupsAPI20 drives the Groups API 2.0 as the legacy CLI's
// `databricks groups …` does, including parallel add-member and
// remove-member calls, which all hold.
func TestGroupsAPI20(t *testing.T) { eachStore(t, servertest.Options{}, testGroupsAPI20) }

func testGroupsAPI20(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	const n = 20
	for i := range n {
		s.CreateUser(t, fmt.Sprintf("u%02d@example.com", i))
	}
	user := s.CreateUser(t, "plain@example.com")
	r := must(t, call(t, s.URL, "POST", "/api/2.0/groups/create", tok, map[string]any{"group_name": "eng"}))
	if r.body["group_name"] != "eng" {
		t.Fatalf("create: %s", r.raw)
	}
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/create", tok, map[string]any{"group_name": "eng"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/create", user.Token, map[string]any{"group_name": "x"}), 403, "PERMISSION_DENIED", "")
	member := func(i int) map[string]any {
		return map[string]any{"user_name": fmt.Sprintf("u%02d@example.com", i), "parent_name": "eng"}
	}
	parallel(n, func(i int) { must(t, call(t, s.URL, "POST", "/api/2.0/groups/add-member", tok, member(i))) })
	parallel(n, func(i int) {
		if i%2 == 0 {
			must(t, call(t, s.URL, "POST", "/api/2.0/groups/remove-member", tok, member(i)))
		} else {
			must(t, call(t, s.URL, "POST", "/api/2.0/groups/add-member", tok, member(i)))
		}
	})
	r = must(t, call(t, s.URL, "GET", "/api/2.0/groups/list-members", user.Token, nil, "group_name", "eng"))
	var got, want []string
	for _, m := range r.body["members"].([]any) {
		got = append(got, m.(map[string]any)["user_name"].(string))
	}
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprintf("u%02d@example.com", i))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("members after parallel add-member and remove-member: %s", missing(want, got))
	}
	r = must(t, call(t, s.URL, "GET", "/api/2.0/groups/list", user.Token, nil))
	if r.raw != `{"group_names":["admins","eng"]}`+"\n" {
		t.Fatalf("list: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", "/api/2.0/groups/list-parents", tok, nil, "user_name", "u01@example.com"))
	if r.raw != `{"group_names":["eng"]}`+"\n" {
		t.Fatalf("list-parents: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", "/api/2.0/groups/list-parents", tok, nil, "group_name", "eng"))
	if r.raw != `{"group_names":[]}`+"\n" {
		t.Fatalf("list-parents of a group: %s", r.raw)
	}

	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/add-member", tok, map[string]any{"group_name": "admins", "parent_name": "eng"}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/add-member", tok, map[string]any{"user_name": "ghost@example.com", "parent_name": "eng"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/add-member", tok, map[string]any{"user_name": "u01@example.com", "parent_name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "GET", "/api/2.0/groups/list-members", tok, nil, "group_name", "nope"), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/remove-member", tok, map[string]any{"user_name": "admin", "parent_name": "admins"}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/delete", tok, map[string]any{"group_name": "admins"}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/delete", user.Token, map[string]any{"group_name": "eng"}), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "POST", "/api/2.0/groups/delete", tok, map[string]any{"group_name": "eng"}))
	expect(t, call(t, s.URL, "POST", "/api/2.0/groups/delete", tok, map[string]any{"group_name": "eng"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
}
