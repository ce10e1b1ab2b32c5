package server_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/files"
)

func TestFilesScope(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "app", "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "db", "password"), []byte("from-a-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "outside"), []byte("not in the scope"), 0o600); err != nil {
		t.Fatal(err)
	}
	fb, err := files.NewBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.StartWith(t, servertest.Options{Files: fb})
	tok := s.AdminToken
	files := func(path string) map[string]any {
		return map[string]any{"scope": "mounted", "scope_backend_type": "FILES", "backend_files": map[string]any{"path": path}}
	}
	expect(t, call(t, s.URL, "POST", pCreate, tok, files("app/missing")), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", pCreate, tok, files("../..")), 400, "INVALID_PARAMETER_VALUE", "")
	must(t, call(t, s.URL, "POST", pCreate, tok, files("app/db")))
	r := must(t, call(t, s.URL, "GET", pScopes, tok, nil))
	if !strings.Contains(r.raw, `{"name":"mounted","backend_type":"FILES","backend_files":{"path":"app/db"}}`) {
		t.Fatalf("scopes: %s", r.raw)
	}
	r = must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "mounted", "key", "password"))
	if r.body["value"] != base64.StdEncoding.EncodeToString([]byte("from-a-file")) {
		t.Fatalf("get: %s", r.raw)
	}
	if r = must(t, call(t, s.URL, "GET", pList, tok, nil, "scope", "mounted")); !strings.Contains(r.raw, `"key":"password"`) {
		t.Fatalf("list: %s", r.raw)
	}
	expect(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "mounted", "key", "../../outside"), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "mounted", "key", "nope"), 404, "RESOURCE_DOES_NOT_EXIST", "")
	// Read-only: put and delete answer BAD_REQUEST and change nothing.
	expect(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "mounted", "key": "password", "string_value": "x"}), 400, "BAD_REQUEST", "")
	expect(t, call(t, s.URL, "POST", pDel, tok, map[string]any{"scope": "mounted", "key": "password"}), 400, "BAD_REQUEST", "")
	if b, _ := os.ReadFile(filepath.Join(root, "app", "db", "password")); string(b) != "from-a-file" {
		t.Fatalf("file changed: %q", b)
	}
	// ACLs apply as for any scope; deleting the scope leaves the files.
	u := s.CreateUser(t, "u@example.com")
	expect(t, call(t, s.URL, "GET", pGet, u.Token, nil, "scope", "mounted", "key", "password"), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "POST", pDelete, tok, map[string]any{"scope": "mounted"}))
	if _, err := os.Stat(filepath.Join(root, "app", "db", "password")); err != nil {
		t.Fatal(err)
	}
}
