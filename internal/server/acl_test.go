package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
)

// caller is one column of the ACL matrix.
type caller struct {
	name  string
	token string
	perm  secrets.Permission // what the caller holds on each test scope
	authn bool               // whether the token authenticates at all
}

// matrixCallers creates the users of the matrix. Permissions are granted
// per scope by grant; WRITE goes through a group to cover group ACLs.
func matrixCallers(t *testing.T, s *servertest.Server) []caller {
	t.Helper()
	manage := s.CreateUser(t, "manager@example.com")
	s.CreateUser(t, "writer@example.com", "writers")
	writer := s.Token(t, "writer@example.com", 0)
	reader := s.CreateUser(t, "reader@example.com")
	none := s.CreateUser(t, "nobody@example.com")
	revoked := s.CreateUser(t, "revoked@example.com")
	s.Revoke(t, revoked.Token)
	expired := s.CreateUser(t, "expired@example.com")
	past := time.Now().Add(-time.Hour)
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.CreateToken(context.Background(), store.Token{ID: "expired-token", UserID: expired.ID, Hash: auth.HashToken(tok), CreatedAt: past.Add(-time.Hour), ExpiresAt: past, CreatedBy: expired.ID}); err != nil {
		t.Fatal(err)
	}
	return []caller{
		{"admin", s.AdminToken, secrets.Manage, true},
		{"MANAGE", manage.Token, secrets.Manage, true},
		{"WRITE", writer, secrets.Write, true},
		{"READ", reader.Token, secrets.Read, true},
		{"none", none.Token, secrets.NoPermission, true},
		// Revoked and expired users would hold MANAGE: only the token is wrong.
		{"revoked", revoked.Token, secrets.Manage, false},
		{"expired", tok, secrets.Manage, false},
		{"no token", "", secrets.Manage, false},
	}
}

// grant prepares scope with one secret and the matrix's ACLs.
func grant(t *testing.T, s *servertest.Server, scope string) {
	t.Helper()
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/scopes/create", s.AdminToken, map[string]any{"scope": scope}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/put", s.AdminToken, map[string]any{"scope": scope, "key": "k", "string_value": "v4lue-of-k"}))
	for p, perm := range map[string]string{
		"manager@example.com": "MANAGE", "writers": "WRITE", "reader@example.com": "READ",
		"revoked@example.com": "MANAGE", "expired@example.com": "MANAGE",
	} {
		must(t, call(t, s.URL, "POST", "/api/2.0/secrets/acls/put", s.AdminToken, map[string]any{"scope": scope, "principal": p, "permission": perm}))
	}
}

type endpoint struct {
	name   string
	method string
	path   string
	need   secrets.Permission // NoPermission: any authenticated user
	body   func(scope string) any
	query  func(scope string) []string
}

var secretsEndpoints = []endpoint{
	{"scopes/create", "POST", "/api/2.0/secrets/scopes/create", secrets.NoPermission,
		func(sc string) any { return map[string]any{"scope": sc + "-new"} }, nil},
	{"scopes/list", "GET", "/api/2.0/secrets/scopes/list", secrets.NoPermission, nil, nil},
	{"scopes/delete", "POST", "/api/2.0/secrets/scopes/delete", secrets.Manage,
		func(sc string) any { return map[string]any{"scope": sc} }, nil},
	{"put", "POST", "/api/2.0/secrets/put", secrets.Write,
		func(sc string) any { return map[string]any{"scope": sc, "key": "k2", "string_value": "x"} }, nil},
	{"delete", "POST", "/api/2.0/secrets/delete", secrets.Write,
		func(sc string) any { return map[string]any{"scope": sc, "key": "k"} }, nil},
	{"list", "GET", "/api/2.0/secrets/list", secrets.Read, nil,
		func(sc string) []string { return []string{"scope", sc} }},
	{"get", "GET", "/api/2.0/secrets/get", secrets.Read, nil,
		func(sc string) []string { return []string{"scope", sc, "key", "k"} }},
	{"acls/put", "POST", "/api/2.0/secrets/acls/put", secrets.Manage,
		func(sc string) any {
			return map[string]any{"scope": sc, "principal": "nobody@example.com", "permission": "READ"}
		}, nil},
	{"acls/delete", "POST", "/api/2.0/secrets/acls/delete", secrets.Manage,
		func(sc string) any { return map[string]any{"scope": sc, "principal": "reader@example.com"} }, nil},
	{"acls/get", "GET", "/api/2.0/secrets/acls/get", secrets.Manage, nil,
		func(sc string) []string { return []string{"scope", sc, "principal", "reader@example.com"} }},
	{"acls/list", "GET", "/api/2.0/secrets/acls/list", secrets.Manage, nil,
		func(sc string) []string { return []string{"scope", sc} }},
}

func TestACLMatrix(t *testing.T) {
	eachStore(t, servertest.Options{}, testACLMatrix)
}

func testACLMatrix(t *testing.T, s *servertest.Server) {
	callers := matrixCallers(t, s)
	i := 0
	for _, ep := range secretsEndpoints {
		for _, c := range callers {
			i++
			scope := fmt.Sprintf("m%d", i)
			t.Run(ep.name+"/"+c.name, func(t *testing.T) {
				t.Parallel() // each case has a scope of its own
				grant(t, s, scope)
				var body any
				if ep.body != nil {
					body = ep.body(scope)
				}
				var q []string
				if ep.query != nil {
					q = ep.query(scope)
				}
				r := call(t, s.URL, ep.method, ep.path, c.token, body, q...)
				wantStatus, wantCode := http.StatusOK, ""
				switch {
				case !c.authn:
					wantStatus, wantCode = http.StatusUnauthorized, "UNAUTHENTICATED"
				case c.perm < ep.need:
					wantStatus, wantCode = http.StatusForbidden, "PERMISSION_DENIED"
				}
				if r.status != wantStatus || r.code() != wantCode {
					t.Fatalf("%s %s as %s: got %d %q (%s), want %d %q", ep.method, ep.path, c.name, r.status, r.code(), r.raw, wantStatus, wantCode)
				}
			})
		}
	}
}
