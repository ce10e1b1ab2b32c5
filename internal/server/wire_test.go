package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/servertest"
)

const (
	pCreate  = "/api/2.0/secrets/scopes/create"
	pDelete  = "/api/2.0/secrets/scopes/delete"
	pScopes  = "/api/2.0/secrets/scopes/list"
	pPut     = "/api/2.0/secrets/put"
	pDel     = "/api/2.0/secrets/delete"
	pList    = "/api/2.0/secrets/list"
	pGet     = "/api/2.0/secrets/get"
	pACLPut  = "/api/2.0/secrets/acls/put"
	pACLGet  = "/api/2.0/secrets/acls/get"
	pACLList = "/api/2.0/secrets/acls/list"
	pACLDel  = "/api/2.0/secrets/acls/delete"
)

// expect asserts status, error code and (when msg != "") the exact message.
func expect(t *testing.T, r resp, status int, code, msg string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q (%s), want %d %q", r.status, r.code(), r.raw, status, code)
	}
	if msg != "" && r.body["message"] != msg {
		t.Fatalf("message %q, want %q", r.body["message"], msg)
	}
}

func TestWireShapes(t *testing.T) { eachStore(t, servertest.Options{}, testWireShapes) }

func testWireShapes(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken

	// Empty lists are {} exactly, as on Databricks.
	if r := must(t, call(t, s.URL, "GET", pScopes, tok, nil)); strings.TrimSpace(r.raw) != "{}" {
		t.Fatalf("empty scope list: %q", r.raw)
	}
	// POSTs answer {}; text/json and a form content type (curl -d) are accepted.
	for _, ct := range []string{"text/json", "application/x-www-form-urlencoded", ""} {
		req, _ := http.NewRequest("POST", s.URL+pCreate, strings.NewReader(`{"scope":"ct`+strings.ReplaceAll(strings.ReplaceAll(ct, "/", ""), "-", "")+`","unknown_field":[1,2]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b [64]byte
		n, _ := res.Body.Read(b[:])
		res.Body.Close()
		if res.StatusCode != 200 || strings.TrimSpace(string(b[:n])) != "{}" {
			t.Fatalf("content type %q: %d %q", ct, res.StatusCode, b[:n])
		}
	}
	if r := must(t, call(t, s.URL, "GET", pList, tok, nil, "scope", "cttextjson")); strings.TrimSpace(r.raw) != "{}" {
		t.Fatalf("empty secret list: %q", r.raw)
	}
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "s"}))
	r := must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "str", "string_value": "héllo"}))
	if strings.TrimSpace(r.raw) != "{}" {
		t.Fatalf("put answered %q", r.raw)
	}
	raw := []byte{0, 1, 2, 0xff, 0xfe}
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "bin", "bytes_value": base64.StdEncoding.EncodeToString(raw)}))
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "empty", "string_value": ""}))

	// get: the value is the standard base64 of the bytes (UTF-8 for strings).
	for key, want := range map[string][]byte{"str": []byte("héllo"), "bin": raw, "empty": {}} {
		r := must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "S", "key", key)) // scope names are case-insensitive
		if r.body["key"] != key || r.body["value"] != base64.StdEncoding.EncodeToString(want) {
			t.Fatalf("get %s: %s", key, r.raw)
		}
	}
	// list: under "secrets", sorted, last_updated_timestamp a JSON number of ms.
	r = must(t, call(t, s.URL, "GET", pList, tok, nil, "scope", "s"))
	items := r.body["secrets"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["key"] != "bin" {
		t.Fatalf("list: %s", r.raw)
	}
	ts, ok := items[0].(map[string]any)["last_updated_timestamp"].(float64)
	if !ok || ts < 1.6e12 || ts > 1e14 {
		t.Fatalf("last_updated_timestamp not a millisecond number: %s", r.raw)
	}
	// scopes: under "scopes" with backend_type.
	r = must(t, call(t, s.URL, "GET", pScopes, tok, nil))
	if !strings.Contains(r.raw, `{"name":"s","backend_type":"DATABRICKS"}`) {
		t.Fatalf("scopes: %s", r.raw)
	}
	// ACLs: creator got MANAGE; items; get answers one item.
	r = must(t, call(t, s.URL, "GET", pACLList, tok, nil, "scope", "s"))
	if strings.TrimSpace(r.raw) != `{"items":[{"principal":"admin","permission":"MANAGE"}]}` {
		t.Fatalf("acls: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", pACLGet, tok, nil, "scope", "s", "principal", "admin"))
	if strings.TrimSpace(r.raw) != `{"principal":"admin","permission":"MANAGE"}` {
		t.Fatalf("acl get: %s", r.raw)
	}
}

func TestErrors(t *testing.T) {
	eachStore(t, servertest.Options{MaxScopes: 3, MaxSecretsPerScope: 2}, testErrors)
}

func testErrors(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "s"}))
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "a", "string_value": "1"}))
	u := s.CreateUser(t, "u@example.com")
	cases := []struct {
		name         string
		method, path string
		token        string
		body         any
		query        []string
		status       int
		code, msg    string
	}{
		{"exists", "POST", pCreate, tok, map[string]any{"scope": "S"}, nil, 400, "RESOURCE_ALREADY_EXISTS", "Scope S already exists!"},
		{"no scope", "POST", pDelete, tok, map[string]any{"scope": "nope"}, nil, 404, "RESOURCE_DOES_NOT_EXIST", "Scope nope does not exist!"},
		{"no secret", "GET", pGet, tok, nil, []string{"scope", "s", "key", "zz"}, 404, "RESOURCE_DOES_NOT_EXIST", "Secret does not exist with scope: s and key: zz"},
		{"delete no secret", "POST", pDel, tok, map[string]any{"scope": "s", "key": "zz"}, nil, 404, "RESOURCE_DOES_NOT_EXIST", "Secret does not exist with scope: s and key: zz"},
		{"no acl", "GET", pACLGet, tok, nil, []string{"scope", "s", "principal", "u@example.com"}, 404, "RESOURCE_DOES_NOT_EXIST", ""},
		{"bad scope name", "POST", pCreate, tok, map[string]any{"scope": "a b"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"long scope name", "POST", pCreate, tok, map[string]any{"scope": strings.Repeat("x", 129)}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"missing scope", "POST", pCreate, tok, map[string]any{}, nil, 400, "INVALID_PARAMETER_VALUE", "Missing required field: scope"},
		{"bad key", "POST", pPut, tok, map[string]any{"scope": "s", "key": "k/1", "string_value": "x"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"both values", "POST", pPut, tok, map[string]any{"scope": "s", "key": "k", "string_value": "x", "bytes_value": "eA=="}, nil, 400, "MALFORMED_REQUEST", ""},
		{"no value", "POST", pPut, tok, map[string]any{"scope": "s", "key": "k"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"bad base64", "POST", pPut, tok, map[string]any{"scope": "s", "key": "k", "bytes_value": "!!!"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"too big", "POST", pPut, tok, map[string]any{"scope": "s", "key": "k", "string_value": strings.Repeat("x", secrets.MaxValueBytes+1)}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"bad json", "POST", pCreate, tok, `{"scope":`, nil, 400, "MALFORMED_REQUEST", ""},
		{"wrong type", "POST", pCreate, tok, `{"scope":5}`, nil, 400, "MALFORMED_REQUEST", ""},
		{"body cap", "POST", pPut, tok, `{"scope":"s","key":"k","string_value":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 400, "RESOURCE_LIMIT_EXCEEDED", ""},
		{"keyvault", "POST", pCreate, tok, map[string]any{"scope": "kv", "scope_backend_type": "AZURE_KEYVAULT"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"files disabled", "POST", pCreate, tok, map[string]any{"scope": "f", "scope_backend_type": "FILES", "backend_files": map[string]any{"path": "x"}}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"files not admin", "POST", pCreate, u.Token, map[string]any{"scope": "f", "scope_backend_type": "FILES", "backend_files": map[string]any{"path": "x"}}, nil, 403, "PERMISSION_DENIED", "Only admins can create FILES-backed scopes"},
		{"imp", "POST", pCreate, tok, map[string]any{"scope": "i", "initial_manage_principal": "u@example.com"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"bad permission", "POST", pACLPut, tok, map[string]any{"scope": "s", "principal": "u@example.com", "permission": "read"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"bad principal", "POST", pACLPut, tok, map[string]any{"scope": "s", "principal": "ghost@example.com", "permission": "READ"}, nil, 400, "INVALID_PARAMETER_VALUE", ""},
		{"denied", "GET", pGet, u.Token, nil, []string{"scope", "s", "key", "a"}, 403, "PERMISSION_DENIED", "User u@example.com does not have READ permission on scope s"},
		{"bad token", "GET", pScopes, "dapi00000000000000000000000000000000", nil, nil, 401, "UNAUTHENTICATED", ""},
		{"unknown path", "GET", "/api/2.0/secrets/nope", tok, nil, nil, 404, "ENDPOINT_NOT_FOUND", ""},
		{"wrong method", "GET", pPut, tok, nil, nil, 405, "BAD_REQUEST", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, call(t, s.URL, c.method, c.path, c.token, c.body, c.query...), c.status, c.code, c.msg)
		})
	}
	// Limits: 2 secrets per scope (overwrite still fine), 3 scopes.
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "b", "string_value": "2"}))
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "b", "string_value": "3"}))
	expect(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s", "key": "c", "string_value": "4"}), 400, "RESOURCE_LIMIT_EXCEEDED", "")
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "s2"}))
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "s3"}))
	expect(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "s4"}), 400, "RESOURCE_LIMIT_EXCEEDED", "")
	// A value of exactly 128 KiB is accepted; nothing of the rejected ones was stored.
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "s2", "key": "max", "string_value": strings.Repeat("x", secrets.MaxValueBytes)}))
	r := must(t, call(t, s.URL, "GET", pList, tok, nil, "scope", "s"))
	if strings.Contains(r.raw, `"k"`) || strings.Contains(r.raw, `"c"`) {
		t.Fatalf("a rejected put left a secret behind: %s", r.raw)
	}
}

func TestACLSemantics(t *testing.T) { eachStore(t, servertest.Options{}, testACLSemantics) }

func testACLSemantics(t *testing.T, s *servertest.Server) {
	u := s.CreateUser(t, "u@example.com")
	v := s.CreateUser(t, "v@example.com", "team")
	// Any user can create a scope and gets MANAGE on it.
	must(t, call(t, s.URL, "POST", pCreate, u.Token, map[string]any{"scope": "mine"}))
	r := must(t, call(t, s.URL, "GET", pACLList, u.Token, nil, "scope", "mine"))
	if !strings.Contains(r.raw, `{"principal":"u@example.com","permission":"MANAGE"}`) {
		t.Fatalf("creator ACL: %s", r.raw)
	}
	// Scope names are readable by everyone.
	if r := must(t, call(t, s.URL, "GET", pScopes, v.Token, nil)); !strings.Contains(r.raw, `"mine"`) {
		t.Fatalf("v cannot see scope names: %s", r.raw)
	}
	// initial_manage_principal users: everyone gets MANAGE, the creator no own ACL.
	must(t, call(t, s.URL, "POST", pCreate, u.Token, map[string]any{"scope": "shared", "initial_manage_principal": "users"}))
	r = must(t, call(t, s.URL, "GET", pACLList, v.Token, nil, "scope", "shared"))
	if strings.TrimSpace(r.raw) != `{"items":[{"principal":"users","permission":"MANAGE"}]}` {
		t.Fatalf("users ACL: %s", r.raw)
	}
	// A group grant works; put-acl overwrites (READ -> WRITE -> READ).
	must(t, call(t, s.URL, "POST", pPut, u.Token, map[string]any{"scope": "mine", "key": "k", "string_value": "x"}))
	expect(t, call(t, s.URL, "GET", pGet, v.Token, nil, "scope", "mine", "key", "k"), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "POST", pACLPut, u.Token, map[string]any{"scope": "mine", "principal": "team", "permission": "WRITE"}))
	must(t, call(t, s.URL, "POST", pPut, v.Token, map[string]any{"scope": "mine", "key": "k2", "string_value": "y"}))
	must(t, call(t, s.URL, "POST", pACLPut, u.Token, map[string]any{"scope": "mine", "principal": "team", "permission": "READ"}))
	expect(t, call(t, s.URL, "POST", pPut, v.Token, map[string]any{"scope": "mine", "key": "k3", "string_value": "z"}), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "GET", pGet, v.Token, nil, "scope", "mine", "key", "k"))
	// Deleting a scope removes its secrets and ACLs.
	must(t, call(t, s.URL, "POST", pDelete, u.Token, map[string]any{"scope": "mine"}))
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "mine"}))
	if r := must(t, call(t, s.URL, "GET", pList, s.AdminToken, nil, "scope", "mine")); strings.TrimSpace(r.raw) != "{}" {
		t.Fatalf("secrets survived delete-scope: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", pACLList, s.AdminToken, nil, "scope", "mine"))
	if strings.Contains(r.raw, "team") || strings.Contains(r.raw, "u@example.com") {
		t.Fatalf("ACLs survived delete-scope: %s", r.raw)
	}
	// Deleting an ACL takes the access away.
	must(t, call(t, s.URL, "POST", pACLPut, s.AdminToken, map[string]any{"scope": "mine", "principal": "v@example.com", "permission": "READ"}))
	must(t, call(t, s.URL, "GET", pList, v.Token, nil, "scope", "mine"))
	must(t, call(t, s.URL, "POST", pACLDel, s.AdminToken, map[string]any{"scope": "mine", "principal": "v@example.com"}))
	expect(t, call(t, s.URL, "GET", pList, v.Token, nil, "scope", "mine"), 403, "PERMISSION_DENIED", "")
	expect(t, call(t, s.URL, "POST", pACLDel, s.AdminToken, map[string]any{"scope": "mine", "principal": "v@example.com"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
}
