package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/files"
)

// Issue 13, item 9: a FILES scope answers clear errors, not a bare 500,
// for a key file over 128 KiB and for a scope directory replaced by a
// symbolic link leading outside the files root; nothing outside the root
// is read.
func TestFilesScopeClearErrors(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "app"), outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, n int) {
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "app", "big"), 128<<10+1)
	write(filepath.Join(root, "app", "ok"), 10)
	const outsideValue = "outside-the-root-must-not-be-read"
	if err := os.WriteFile(filepath.Join(outside, "ok"), []byte(outsideValue), 0o600); err != nil {
		t.Fatal(err)
	}
	fb, err := files.NewBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.StartWith(t, servertest.Options{Files: fb})
	tok := s.AdminToken
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "m", "scope_backend_type": "FILES", "backend_files": map[string]any{"path": "app"}}))

	r := call(t, s.URL, "GET", pGet, tok, nil, "scope", "m", "key", "big")
	expect(t, r, 400, "RESOURCE_LIMIT_EXCEEDED", "")
	if msg, _ := r.body["message"].(string); !strings.Contains(msg, "128 KiB") || !strings.Contains(msg, "big") {
		t.Errorf("message for a big file: %q", msg)
	}
	must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "m", "key", "ok"))

	// The scope directory is replaced by a link to a directory outside the root.
	if err := os.Rename(filepath.Join(root, "app"), filepath.Join(root, "app.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "app")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path string }{{pGet}, {pList}} {
		r := call(t, s.URL, "GET", c.path, tok, nil, "scope", "m", "key", "ok")
		expect(t, r, 400, "BAD_REQUEST", "")
		if msg, _ := r.body["message"].(string); !strings.Contains(msg, "outside") || !strings.Contains(msg, "files root") {
			t.Errorf("%s: message for an escaping scope directory: %q", c.path, msg)
		}
		if strings.Contains(r.raw, outsideValue) {
			t.Fatalf("%s: read a file outside the root", c.path)
		}
	}
}
