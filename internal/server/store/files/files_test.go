package files

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func keys(l []secrets.SecretMeta) []string {
	var out []string
	for _, m := range l {
		out = append(out, m.Key)
	}
	return out
}

func TestListAndRead(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "team", "db")
	write(t, filepath.Join(dir, "password"), "s3cr3t\n")
	write(t, filepath.Join(dir, "user.name"), "admin")
	write(t, filepath.Join(dir, "API_KEY"), "k")
	write(t, filepath.Join(dir, ".hidden"), "no")
	write(t, filepath.Join(dir, "has space"), "no")
	write(t, filepath.Join(dir, "subdir", "x"), "no")
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "password"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	l, err := List(root, "team/db")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(l), []string{"API_KEY", "password", "user.name"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	if !l[1].UpdatedAt.Equal(mtime) || l[1].UpdatedAt.Location() != time.UTC {
		t.Fatalf("UpdatedAt = %v, want %v", l[1].UpdatedAt, mtime)
	}
	v, err := Read(root, "team/db", "password")
	if err != nil || string(v) != "s3cr3t\n" {
		t.Fatalf("Read = %q, %v", v, err)
	}
	if err := CheckDir(root, "team/db"); err != nil {
		t.Fatal(err)
	}
	// Same directory through other spellings.
	for _, rel := range []string{"team/db/", "./team/db", "team//db"} {
		if _, err := Read(root, rel, "password"); err != nil {
			t.Errorf("Read via %q: %v", rel, err)
		}
	}

	// Keys that are not keys.
	for _, key := range []string{".hidden", "has space", "subdir", "missing", "", ".", "..", "../db/password", "team/db/password"} {
		_, err := Read(root, "team/db", key)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Read(%q): err = %v, want ErrNotFound", key, err)
		}
	}
	// Missing or non-directory scope paths.
	for _, rel := range []string{"team/nope", "team/db/password"} {
		if _, err := List(root, rel); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("List(%q): err = %v, want ErrNotFound", rel, err)
		}
		if _, err := Read(root, rel, "password"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Read(%q): err = %v, want ErrNotFound", rel, err)
		}
		if err := CheckDir(root, rel); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CheckDir(%q): err = %v, want ErrNotFound", rel, err)
		}
	}
}

func TestEmptyDir(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := List(root, "empty")
	if err != nil || l == nil || len(l) != 0 {
		t.Fatalf("List = %#v, %v; want empty non-nil", l, err)
	}
}

func TestEscapes(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	write(t, filepath.Join(outside, "stolen"), "outside-secret")
	write(t, filepath.Join(root, "scope", "ok"), "fine")
	write(t, filepath.Join(root, "other", "shared"), "shared-inside")

	// A key linking outside the root, by relative and by absolute path.
	symlink(t, "../../outside/stolen", filepath.Join(root, "scope", "rel_escape"))
	symlink(t, filepath.Join(outside, "stolen"), filepath.Join(root, "scope", "abs_escape"))
	// A key linking elsewhere inside the root is fine, also by absolute path.
	symlink(t, "../other/shared", filepath.Join(root, "scope", "inside"))
	symlink(t, filepath.Join(root, "other", "shared"), filepath.Join(root, "scope", "inside_abs"))
	// A dangling link is not a key.
	symlink(t, "nowhere", filepath.Join(root, "scope", "dangling"))
	// A scope directory that links outside.
	symlink(t, outside, filepath.Join(root, "linked_out"))

	l, err := List(root, "scope")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(l), []string{"inside", "inside_abs", "ok"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, key := range []string{"inside", "inside_abs"} {
		v, err := Read(root, "scope", key)
		if err != nil || string(v) != "shared-inside" {
			t.Fatalf("Read(%s) = %q, %v", key, v, err)
		}
	}
	for _, key := range []string{"rel_escape", "abs_escape", "dangling"} {
		v, err := Read(root, "scope", key)
		if !errors.Is(err, store.ErrNotFound) || v != nil {
			t.Fatalf("Read(%s) = %q, %v; want ErrNotFound", key, v, err)
		}
	}

	for _, rel := range []string{"../outside", "scope/../../outside", "..", "/etc", outside, "linked_out", `..\outside`} {
		if _, err := List(root, rel); !errors.Is(err, ErrEscapesRoot) {
			t.Errorf("List(%q): err = %v, want ErrEscapesRoot", rel, err)
		}
		if v, err := Read(root, rel, "stolen"); !errors.Is(err, ErrEscapesRoot) {
			t.Errorf("Read(%q, stolen) = %q, %v; want ErrEscapesRoot", rel, v, err)
		}
		if err := CheckDir(root, rel); !errors.Is(err, ErrEscapesRoot) {
			t.Errorf("CheckDir(%q): err = %v, want ErrEscapesRoot", rel, err)
		}
	}
}

// TestKubernetesLayout mounts a secret the way the kubelet does: files in a
// timestamped directory, ..data linking to it, keys linking through ..data;
// an update swaps ..data.
func TestKubernetesLayout(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ns", "db-creds")
	v1 := "..2024_05_06_07_08_09.123456789"
	write(t, filepath.Join(dir, v1, "username"), "app")
	write(t, filepath.Join(dir, v1, "password"), "first-password")
	symlink(t, v1, filepath.Join(dir, "..data"))
	symlink(t, "..data/username", filepath.Join(dir, "username"))
	symlink(t, "..data/password", filepath.Join(dir, "password"))

	l, err := List(root, "ns/db-creds")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(l), []string{"password", "username"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	v, err := Read(root, "ns/db-creds", "password")
	if err != nil || string(v) != "first-password" {
		t.Fatalf("Read = %q, %v", v, err)
	}

	// The kubelet's atomic update: a new directory, then ..data swapped by rename.
	v2 := "..2024_05_07_00_00_00.000000001"
	write(t, filepath.Join(dir, v2, "username"), "app")
	write(t, filepath.Join(dir, v2, "password"), "second-password")
	symlink(t, v2, filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, v1)); err != nil {
		t.Fatal(err)
	}
	v, err = Read(root, "ns/db-creds", "password")
	if err != nil || string(v) != "second-password" {
		t.Fatalf("Read after update = %q, %v", v, err)
	}
}

func TestRootIsASymlink(t *testing.T) {
	base := t.TempDir()
	write(t, filepath.Join(base, "real", "s", "k"), "v")
	symlink(t, filepath.Join(base, "real"), filepath.Join(base, "root"))
	v, err := Read(filepath.Join(base, "root"), "s", "k")
	if err != nil || string(v) != "v" {
		t.Fatalf("Read = %q, %v", v, err)
	}
}

func TestTooLarge(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "s", "max"), string(bytes.Repeat([]byte("a"), secrets.MaxValueBytes)))
	write(t, filepath.Join(root, "s", "big"), string(bytes.Repeat([]byte("a"), secrets.MaxValueBytes+1)))
	if v, err := Read(root, "s", "max"); err != nil || len(v) != secrets.MaxValueBytes {
		t.Fatalf("Read(max) = %d bytes, %v", len(v), err)
	}
	if _, err := Read(root, "s", "big"); err == nil {
		t.Fatal("a file over the value limit was read")
	}
}

func TestMissingRoot(t *testing.T) {
	_, err := List(filepath.Join(t.TempDir(), "nope"), "s")
	if err == nil {
		t.Fatal("List under a missing root succeeded")
	}
}

func TestBackend(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "s", "k"), "v")
	b, err := NewBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := b.List(ctx, "s")
	if err != nil || !slices.Equal(keys(l), []string{"k"}) {
		t.Fatalf("List = %v, %v", keys(l), err)
	}
	v, err := b.Read(ctx, "s", "k")
	if err != nil || string(v) != "v" {
		t.Fatalf("Read = %q, %v", v, err)
	}
	if _, err := b.Read(ctx, "../x", "k"); !errors.Is(err, ErrEscapesRoot) {
		t.Fatalf("escape through Backend: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Read(canceled, "s", "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if _, err := NewBackend(filepath.Join(root, "s", "k")); err == nil {
		t.Fatal("NewBackend on a file succeeded")
	}
	if _, err := NewBackend(filepath.Join(root, "nope")); err == nil {
		t.Fatal("NewBackend on a missing dir succeeded")
	}
}
