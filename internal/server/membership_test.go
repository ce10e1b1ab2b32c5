package server_test

import (
	"fmt"
	"net/http"
	"slices"
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
