package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
	"github.com/hush-secrets/hush/redact/redacttest"
)

func TestTokens(t *testing.T) {
	s := servertest.Start(t)
	u := s.CreateUser(t, "u@example.com")
	r := must(t, call(t, s.URL, "POST", "/api/2.0/token/create", u.Token, map[string]any{"lifetime_seconds": 3600, "comment": "ci"}))
	val, _ := r.body["token_value"].(string)
	if err := auth.ValidateTokenFormat(val); err != nil || len(val) != 36 {
		t.Fatalf("token %q: %v", val, err)
	}
	info := r.body["token_info"].(map[string]any)
	id := info["token_id"].(string)
	ct, et := info["creation_time"].(float64), info["expiry_time"].(float64)
	if info["comment"] != "ci" || et-ct != 3600*1000 {
		t.Fatalf("token_info: %s", r.raw)
	}
	// The new token works; a token without lifetime never expires (-1).
	must(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", val, nil))
	r = must(t, call(t, s.URL, "POST", "/api/2.0/token/create", val, map[string]any{}))
	if r.body["token_info"].(map[string]any)["expiry_time"].(float64) != -1 {
		t.Fatalf("no lifetime: %s", r.raw)
	}
	// list shows own tokens only, never values.
	r = must(t, call(t, s.URL, "GET", "/api/2.0/token/list", u.Token, nil))
	// The known values by redacttest, any other by its prefix.
	if !redacttest.AssertNoSecret(t, []byte(r.raw), []byte(u.Token), []byte(val)) || strings.Contains(r.raw, "dapi") {
		t.Fatal("list shows a token value")
	}
	if n := len(r.body["token_infos"].([]any)); n != 3 {
		t.Fatalf("list: %d tokens: %s", n, r.raw)
	}
	// Another user cannot revoke it; the owner can, and then it stops working.
	other := s.CreateUser(t, "o@example.com")
	expect(t, call(t, s.URL, "POST", "/api/2.0/token/delete", other.Token, map[string]any{"token_id": id}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	must(t, call(t, s.URL, "POST", "/api/2.0/token/delete", u.Token, map[string]any{"token_id": id}))
	expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", val, nil), 401, "UNAUTHENTICATED", "")
	// The stored hash is the SHA-256 of the value; the value is stored nowhere.
	if _, err := s.Store.TokenByHash(context.Background(), auth.HashToken(u.Token)); err != nil {
		t.Fatalf("token not found by hash: %v", err)
	}

	// Token management: admins only.
	expect(t, call(t, s.URL, "POST", "/api/2.0/token-management/on-behalf-of/tokens", u.Token, map[string]any{"application_id": "o@example.com"}), 403, "PERMISSION_DENIED", "")
	expect(t, call(t, s.URL, "GET", "/api/2.0/token-management/tokens", u.Token, nil), 403, "PERMISSION_DENIED", "")
	r = must(t, call(t, s.URL, "POST", "/api/2.0/token-management/on-behalf-of/tokens", s.AdminToken, map[string]any{"application_id": "o@example.com", "lifetime_seconds": 60, "comment": "obo"}))
	obo := r.body["token_value"].(string)
	oboInfo := r.body["token_info"].(map[string]any)
	if oboInfo["created_by_username"] != "admin" || oboInfo["owner_id"] == nil || oboInfo["comment"] != "obo" {
		t.Fatalf("obo: %s", r.raw)
	}
	if me := must(t, call(t, s.URL, "GET", "/api/2.0/preview/scim/v2/Me", obo, nil)); me.body["userName"] != "o@example.com" {
		t.Fatalf("obo token acts as %v", me.body["userName"])
	}
	expect(t, call(t, s.URL, "POST", "/api/2.0/token-management/on-behalf-of/tokens", s.AdminToken, map[string]any{"application_id": "ghost"}), 400, "INVALID_PARAMETER_VALUE", "")
	r = must(t, call(t, s.URL, "GET", "/api/2.0/token-management/tokens", s.AdminToken, nil, "created_by_username", "admin"))
	if !redacttest.AssertNoSecret(t, []byte(r.raw), []byte(obo), []byte(s.AdminToken)) || strings.Contains(r.raw, "dapi") {
		t.Fatal("management list shows a token value")
	}
	if !strings.Contains(r.raw, oboInfo["token_id"].(string)) {
		t.Fatalf("management list: %s", r.raw)
	}
	oid := oboInfo["token_id"].(string)
	must(t, call(t, s.URL, "GET", "/api/2.0/token-management/tokens/"+oid, s.AdminToken, nil))
	must(t, call(t, s.URL, "DELETE", "/api/2.0/token-management/tokens/"+oid, s.AdminToken, nil))
	expect(t, call(t, s.URL, "GET", "/api/2.0/token-management/tokens/"+oid, s.AdminToken, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", obo, nil), 401, "UNAUTHENTICATED", "")
}

func TestTokenExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := servertest.StartWith(t, servertest.Options{Now: clock})
	u := s.CreateUser(t, "u@example.com")
	r := must(t, call(t, s.URL, "POST", "/api/2.0/token/create", u.Token, map[string]any{"lifetime_seconds": 60}))
	tok := r.body["token_value"].(string)
	must(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", tok, nil))
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", tok, nil), 401, "UNAUTHENTICATED", "")
	must(t, call(t, s.URL, "GET", "/api/2.0/secrets/scopes/list", u.Token, nil)) // no expiry
}

func TestSCIM(t *testing.T) {
	s := servertest.Start(t)
	const users, groups = "/api/2.0/preview/scim/v2/Users", "/api/2.0/preview/scim/v2/Groups"
	r := must(t, call(t, s.URL, "POST", users, s.AdminToken, map[string]any{"userName": "jane@example.com", "displayName": "Jane", "schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}}))
	jane := r.body["id"].(string)
	if r.body["userName"] != "jane@example.com" || r.body["active"] != true {
		t.Fatalf("create user: %s", r.raw)
	}
	expect(t, call(t, s.URL, "POST", users, s.AdminToken, map[string]any{"userName": "jane@example.com"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "POST", users, s.AdminToken, map[string]any{"userName": "bad name"}), 400, "INVALID_PARAMETER_VALUE", "")
	// Non-admins cannot write identities.
	joe := s.CreateUser(t, "joe@example.com")
	expect(t, call(t, s.URL, "POST", users, joe.Token, map[string]any{"userName": "x@example.com"}), 403, "PERMISSION_DENIED", "")
	expect(t, call(t, s.URL, "POST", groups, joe.Token, map[string]any{"displayName": "g"}), 403, "PERMISSION_DENIED", "")
	// Filtered list, and pagination that ends with an empty page.
	r = must(t, call(t, s.URL, "GET", users, s.AdminToken, nil, "filter", `userName eq "jane@example.com"`))
	res := r.body["Resources"].([]any)
	if len(res) != 1 || r.body["totalResults"].(float64) != 1 || res[0].(map[string]any)["id"] != jane {
		t.Fatalf("filter: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", users, s.AdminToken, nil, "startIndex", "2", "count", "1"))
	if len(r.body["Resources"].([]any)) != 1 || r.body["totalResults"].(float64) != 3 {
		t.Fatalf("page: %s", r.raw)
	}
	if r = must(t, call(t, s.URL, "GET", users, s.AdminToken, nil, "startIndex", "4")); r.body["Resources"] != nil {
		t.Fatalf("past the end: %s", r.raw)
	}
	expect(t, call(t, s.URL, "GET", users, s.AdminToken, nil, "filter", `userName co "j"`), 400, "INVALID_PARAMETER_VALUE", "")
	// Groups: create, add and remove members the ways the SDK and the CLI send them.
	r = must(t, call(t, s.URL, "POST", groups, s.AdminToken, map[string]any{"displayName": "data"}))
	gid := r.body["id"].(string)
	expect(t, call(t, s.URL, "POST", groups, s.AdminToken, map[string]any{"displayName": "data"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "POST", groups, s.AdminToken, map[string]any{"displayName": "users"}), 409, "RESOURCE_ALREADY_EXISTS", "")
	must(t, call(t, s.URL, "PATCH", groups+"/"+gid, s.AdminToken, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "value": map[string]any{"members": []map[string]any{{"value": jane}}}}},
	}))
	must(t, call(t, s.URL, "PATCH", groups+"/"+gid, s.AdminToken, map[string]any{
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": joe.ID}}}},
	}))
	r = must(t, call(t, s.URL, "GET", groups+"/"+gid, s.AdminToken, nil))
	if len(r.body["members"].([]any)) != 2 || !strings.Contains(r.raw, `"display":"jane@example.com"`) {
		t.Fatalf("members: %s", r.raw)
	}
	// Group membership grants scope access at once.
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "g"}))
	must(t, call(t, s.URL, "POST", pACLPut, s.AdminToken, map[string]any{"scope": "g", "principal": "data", "permission": "READ"}))
	must(t, call(t, s.URL, "GET", pList, joe.Token, nil, "scope", "g"))
	must(t, call(t, s.URL, "PATCH", groups+"/"+gid, s.AdminToken, map[string]any{
		"Operations": []map[string]any{{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, joe.ID)}},
	}))
	expect(t, call(t, s.URL, "GET", pList, joe.Token, nil, "scope", "g"), 403, "PERMISSION_DENIED", "")
	expect(t, call(t, s.URL, "PATCH", groups+"/"+gid, s.AdminToken, map[string]any{
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": "999"}}}},
	}), 400, "INVALID_PARAMETER_VALUE", "")
	r = must(t, call(t, s.URL, "GET", groups, s.AdminToken, nil, "filter", `displayName eq "data"`))
	if len(r.body["Resources"].([]any)) != 1 {
		t.Fatalf("group filter: %s", r.raw)
	}
	// Me, deactivation (token stops working), deletion.
	if r = must(t, call(t, s.URL, "GET", "/api/2.0/preview/scim/v2/Me", joe.Token, nil)); r.body["userName"] != "joe@example.com" {
		t.Fatalf("me: %s", r.raw)
	}
	if r = must(t, call(t, s.URL, "GET", users+"/"+jane, joe.Token, nil)); r.body["userName"] != "jane@example.com" {
		t.Fatalf("users read each other: %s", r.raw)
	}
	expect(t, call(t, s.URL, "DELETE", users+"/"+jane, joe.Token, nil), 403, "PERMISSION_DENIED", "")
	expect(t, call(t, s.URL, "PATCH", groups+"/"+gid, joe.Token, map[string]any{"Operations": []any{}}), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "PATCH", users+"/"+joe.ID, s.AdminToken, map[string]any{
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}},
	}))
	expect(t, call(t, s.URL, "GET", "/api/2.0/preview/scim/v2/Me", joe.Token, nil), 401, "UNAUTHENTICATED", "")
	must(t, call(t, s.URL, "DELETE", users+"/"+jane, s.AdminToken, nil))
	expect(t, call(t, s.URL, "GET", users+"/"+jane, s.AdminToken, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	if r = must(t, call(t, s.URL, "GET", groups+"/"+gid, s.AdminToken, nil)); r.body["members"] != nil {
		t.Fatalf("deleted user still a member: %s", r.raw)
	}
	must(t, call(t, s.URL, "DELETE", groups+"/"+gid, s.AdminToken, nil))
	admins := must(t, call(t, s.URL, "GET", groups, s.AdminToken, nil, "filter", `displayName eq "admins"`)).body["Resources"].([]any)[0].(map[string]any)["id"].(string)
	expect(t, call(t, s.URL, "DELETE", groups+"/"+admins, s.AdminToken, nil), 400, "INVALID_PARAMETER_VALUE", "")
}

func TestAuditAndLogs(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	lw := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	s := servertest.StartWith(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(lw, nil))})
	u := s.CreateUser(t, "u@example.com")
	const value = "s3cr3t-VALUE-never-logged"
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "a"}))
	must(t, call(t, s.URL, "POST", pPut, s.AdminToken, map[string]any{"scope": "a", "key": "k", "string_value": value}))
	must(t, call(t, s.URL, "GET", pGet, s.AdminToken, nil, "scope", "a", "key", "k"))
	expect(t, call(t, s.URL, "GET", pGet, u.Token, nil, "scope", "a", "key", "k"), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "POST", pACLPut, s.AdminToken, map[string]any{"scope": "a", "principal": "u@example.com", "permission": "READ"}))
	must(t, call(t, s.URL, "GET", pGet, u.Token, nil, "scope", "a", "key", "k"))
	expect(t, call(t, s.URL, "POST", pDel, u.Token, map[string]any{"scope": "a", "key": "k"}), 403, "PERMISSION_DENIED", "")

	expect(t, call(t, s.URL, "GET", "/api/2.0/hush/audit", u.Token, nil), 403, "PERMISSION_DENIED", "")
	r := must(t, call(t, s.URL, "GET", "/api/2.0/hush/audit", s.AdminToken, nil, "scope", "a"))
	type ev struct {
		Actor, Action, Scope, Key, Remote, ErrorCode string
		Allowed                                      bool
	}
	var got struct {
		Events []struct {
			Timestamp int64  `json:"timestamp"`
			Actor     string `json:"actor"`
			Action    string `json:"action"`
			Scope     string `json:"scope"`
			Key       string `json:"key"`
			Remote    string `json:"remote"`
			Allowed   bool   `json:"allowed"`
			ErrorCode string `json:"error_code"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
		t.Fatal(err)
	}
	var evs []ev
	for _, e := range got.Events {
		if e.Timestamp <= 0 || e.Remote != "127.0.0.1" {
			t.Fatalf("event lacks time or remote: %+v", e)
		}
		evs = append(evs, ev{e.Actor, e.Action, e.Scope, e.Key, "", e.ErrorCode, e.Allowed})
	}
	want := []ev{
		{"admin", "scopes.create", "a", "", "", "", true},
		{"admin", "secrets.put", "a", "k", "", "", true},
		{"admin", "secrets.get", "a", "k", "", "", true},
		{"u@example.com", "secrets.get", "a", "k", "", "PERMISSION_DENIED", false},
		{"admin", "acls.put", "a", "u@example.com", "", "", true},
		{"u@example.com", "secrets.get", "a", "k", "", "", true},
		{"u@example.com", "secrets.delete", "a", "k", "", "PERMISSION_DENIED", false},
	}
	if fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Fatalf("audit:\n got %v\nwant %v", evs, want)
	}
	r = must(t, call(t, s.URL, "GET", "/api/2.0/hush/audit", s.AdminToken, nil, "actor", "u@example.com", "limit", "1"))
	if strings.Count(r.raw, `"action"`) != 1 || !strings.Contains(r.raw, "secrets.delete") {
		t.Fatalf("actor+limit: %s", r.raw)
	}
	expect(t, call(t, s.URL, "GET", "/api/2.0/hush/audit", s.AdminToken, nil, "since", "yesterday"), 400, "INVALID_PARAMETER_VALUE", "")

	// Metrics by route pattern; no value or token in logs, metrics or audit.
	m := call(t, s.URL, "GET", "/metrics", "", nil)
	if m.status != 200 || !strings.Contains(m.raw, `hush_http_requests_total{route="/api/2.0/secrets/get",method="GET",status="403"} 1`) {
		t.Fatalf("metrics: %s", m.raw)
	}
	mu.Lock()
	outputs := map[string][]byte{"logs": []byte(logs.String()), "metrics": []byte(m.raw), "audit": []byte(r.raw)}
	mu.Unlock()
	// secrets[0] is the value, then the admin's and the user's tokens.
	if !redacttest.AssertNoSecretIn(t, outputs, []byte(value), []byte(s.AdminToken), []byte(u.Token)) {
		t.FailNow() // the logs are printed below
	}
	if !strings.Contains(logs.String(), `"route":"/api/2.0/secrets/get"`) || !strings.Contains(logs.String(), `"user":"u@example.com"`) {
		t.Fatalf("request log lacks route or user: %s", logs.String())
	}
	// Unauthenticated endpoints.
	if r := call(t, s.URL, "GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	r = must(t, call(t, s.URL, "GET", "/.well-known/databricks-config", "", nil))
	if r.body["workspace_id"] == nil {
		t.Fatalf("well-known: %s", r.raw)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(t.TempDir() + "/hush.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := server.Bootstrap(ctx, st, "not-a-token", time.Now()); err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("not-a-token")) {
		t.Fatal("bad bootstrap token: no error, or one that quotes it")
	}
	const tok = "dapi0123456789abcdef0123456789abcdef"
	res, err := server.Bootstrap(ctx, st, tok, time.Now())
	if err != nil || !res.Created || res.Token != tok {
		t.Fatalf("bootstrap: %+v %v", res, err)
	}
	res, err = server.Bootstrap(ctx, st, "", time.Now())
	if err != nil || res.Created {
		t.Fatalf("second bootstrap: %+v %v", res, err)
	}
	a := auth.NewAuthenticator(st, nil)
	id, err := a.Authenticate(ctx, tok)
	if err != nil || id.User.UserName != "admin" || !id.IsAdmin() {
		t.Fatalf("bootstrap identity: %+v %v", id, err)
	}
	users, _ := st.ListUsers(ctx)
	if len(users) != 1 {
		t.Fatalf("%d users", len(users))
	}
}

// TestBootstrapReplicas starts the bootstrap of two replicas at once on one
// PostgreSQL database: exactly one admin and one bootstrap token result.
func TestBootstrapReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)
	var stores [4]*postgres.Store
	for i := range stores {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	var wg sync.WaitGroup
	results := make([]server.BootstrapResult, len(stores))
	errs := make([]error, len(stores))
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = server.Bootstrap(ctx, st, "", time.Now())
		}()
	}
	wg.Wait()
	created := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i].Created {
			created++
		}
	}
	users, err := stores[0].ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := stores[0].ListTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || len(users) != 1 || len(toks) != 1 {
		t.Fatalf("created by %d replicas, %d users, %d tokens; want 1 each", created, len(users), len(toks))
	}
}

// TestBootstrapResumes: a bootstrap interrupted after the admin user was
// created (no token, not yet in admins) is finished by the next start; a
// store with users but no "admin" is left alone.
func TestBootstrapResumes(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(t.TempDir() + "/hush.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateUser(ctx, store.User{ID: "1", UserName: "admin", Active: true}); err != nil {
		t.Fatal(err)
	}
	res, err := server.Bootstrap(ctx, st, "", time.Now())
	if err != nil || !res.Created {
		t.Fatalf("resume: %+v %v", res, err)
	}
	id, err := auth.NewAuthenticator(st, nil).Authenticate(ctx, res.Token)
	if err != nil || id.User.ID != "1" || !id.IsAdmin() {
		t.Fatalf("resumed admin: %+v %v", id, err)
	}
	if res, err := server.Bootstrap(ctx, st, "", time.Now()); err != nil || res.Created {
		t.Fatalf("after completion: %+v %v", res, err)
	}

	other, err := bolt.Open(t.TempDir() + "/hush.db")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.CreateUser(ctx, store.User{ID: "1", UserName: "someone@example.com", Active: true}); err != nil {
		t.Fatal(err)
	}
	if res, err := server.Bootstrap(ctx, other, "", time.Now()); err != nil || res.Created {
		t.Fatalf("store without admin: %+v %v", res, err)
	}
	if toks, _ := other.ListTokens(ctx, ""); len(toks) != 0 {
		t.Fatalf("%d tokens issued", len(toks))
	}
}
