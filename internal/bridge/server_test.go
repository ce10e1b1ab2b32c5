package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// post calls a write endpoint of the real server as the admin.
func post(t *testing.T, srv *servertest.Server, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// TestAgainstRealServer runs the bridge in front of a real hush serve with
// a user who may read one scope only: the user's permissions apply through
// the bridge, and exactly the readable values get registered.
func TestAgainstRealServer(t *testing.T) {
	srv := servertest.Start(t)
	str := func(s string) *string { return &s }
	for _, sc := range []string{"team", "private"} {
		post(t, srv, dbapi.PathScopesCreate, dbapi.CreateScopeRequest{Scope: sc})
	}
	post(t, srv, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "team", Key: "db", StringValue: str("team-db-password-1")})
	post(t, srv, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "team", Key: "api", StringValue: str("team-api-key-22222")})
	post(t, srv, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "private", Key: "root", StringValue: str("private-root-33333")})
	alice := srv.CreateUser(t, "alice@example.com")
	post(t, srv, dbapi.PathACLsPut, dbapi.PutACLRequest{Scope: "team", Principal: "alice@example.com", Permission: "READ"})

	red := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	b, err := New(Options{Upstream: srv.URL, Token: alice.Token, Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.LoadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Secrets != 2 {
		t.Fatalf("LoadAll %+v, want the 2 secrets alice may read", st)
	}
	out := string(red.Redact(nil, []byte("team-db-password-1 team-api-key-22222 private-root-33333")))
	if out != "[REDACTED] [REDACTED] private-root-33333" {
		t.Fatalf("redacted %q", out)
	}

	get := func(q string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", dbapi.PathSecretsGet+"?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+b.Token())
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("scope=private&key=root"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), dbapi.CodePermissionDenied) {
		t.Fatalf("alice reading private through the bridge: %d %s", rec.Code, rec.Body)
	}
	if rec := get("scope=team&key=nope"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), dbapi.CodeResourceDoesNotExist) {
		t.Fatalf("missing key: %d %s", rec.Code, rec.Body)
	}

	// A value put after the load is registered by the first get.
	post(t, srv, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "team", Key: "new", StringValue: str("fresh-value-444444")})
	if rec := get("scope=team&key=new"); rec.Code != 200 {
		t.Fatalf("get new: %d %s", rec.Code, rec.Body)
	}
	if got := string(red.Redact(nil, []byte("fresh-value-444444"))); got != "[REDACTED]" {
		t.Fatalf("a value returned by the bridge is not redacted: %q", got)
	}
	// The official client works against the bridge unchanged.
	bs, err := b.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close(context.Background())
	c := dbapi.NewClient(dbapi.Config{Host: bs.URL, Token: b.Token()})
	scopes, err := c.ListScopes(context.Background())
	if err != nil || len(scopes) == 0 {
		t.Fatalf("list scopes through the bridge: %v %v", scopes, err)
	}
}
