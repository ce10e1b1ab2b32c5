package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// onlyTarget asserts that dir holds the file base and nothing else (no
// temporary file left behind).
func onlyTarget(t *testing.T, dir, base string) {
	t.Helper()
	if names := dirNames(t, dir); len(names) != 1 || names[0] != base {
		t.Fatalf("directory holds %q, want only %q", names, base)
	}
}

func assertFile(t *testing.T, path string, content []byte, perm fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm {
		t.Fatalf("%s: mode %v, want a regular file with %v", path, fi.Mode(), perm)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("%s holds %d bytes, not the %d written", path, len(got), len(content))
	}
}

func TestWriteModeAndContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, c := range []struct {
		content string
		perm    fs.FileMode
	}{
		{"first\n", 0o600},
		{"second, longer than the first\n", 0o644}, // replaces, and widens the mode
		{"", 0o600},                                // empty content, narrower mode again
		{"x", 0o640},
	} {
		if err := Write(path, []byte(c.content), c.perm); err != nil {
			t.Fatal(err)
		}
		assertFile(t, path, []byte(c.content), c.perm)
		onlyTarget(t, dir, "f")
	}
}

func TestWriteReplacesSymlinkNotTarget(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, link, []byte("new"), 0o600)
	assertFile(t, target, []byte("old"), 0o600)
}

// TestWriteFuncFailureKeepsOld: a writer that fails half-way leaves the old
// file as it was and no temporary file, and its error comes back.
func TestWriteFuncFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "profile")
	if err := Write(path, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("encoder failed")
	err := WriteFunc(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half of the new"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want the writer's error, naming the file", err)
	}
	assertFile(t, path, []byte("old content"), 0o600)
	onlyTarget(t, dir, "profile")
}

// TestWriteRenameFailure: when the rename fails (a directory sits at the
// target's name), the temporary file is removed and the directory kept.
func TestWriteRenameFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "busy")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "inside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("data"), 0o600); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	onlyTarget(t, dir, "busy")
	if names := dirNames(t, path); len(names) != 1 || names[0] != "inside" {
		t.Fatalf("the directory now holds %q", names)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	err := Write(filepath.Join(dir, "no", "such", "f"), []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("left %q behind", names)
	}
}

// TestWriteReadOnlyDirectory: a directory the process may not write to
// gives an error, and the old file stays. Root may write anywhere, so the
// test needs an unprivileged user; TestWriteFileTooLarge covers a failing
// write as root.
func TestWriteReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIPPING: root ignores directory permissions; TestWriteFileTooLarge covers a failing write")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if err := Write(path, []byte("new"), 0o600); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("err = %v, want fs.ErrPermission", err)
	}
	assertFile(t, path, []byte("old"), 0o600)
	onlyTarget(t, dir, "f")
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, []byte("first"), 0o600)
	onlyTarget(t, dir, "master.key")
	err := Create(path, []byte("second"), 0o644)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	assertFile(t, path, []byte("first"), 0o600)
	onlyTarget(t, dir, "master.key")
}

// TestCreateRace: of racing creators exactly one wins, every loser gets
// fs.ErrExist, and the file holds the winner's content in full.
func TestCreateRace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Create(path, bytes.Repeat([]byte{byte('a' + i)}, 4096), 0o600)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("creators %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("creator %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator succeeded")
	}
	assertFile(t, path, bytes.Repeat([]byte{byte('a' + winner)}, 4096), 0o600)
	onlyTarget(t, dir, "key")
}

func TestRename(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.new"), filepath.Join(dir, "a")
	if err := Write(a, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Rename(a, b); err != nil {
		t.Fatal(err)
	}
	assertFile(t, b, []byte("new"), 0o600)
	onlyTarget(t, dir, "a")
	if err := Rename(b, filepath.Join(t.TempDir(), "a")); err == nil {
		t.Fatal("a rename across directories was accepted")
	}
	if err := Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("renaming a missing file: %v", err)
	}
	assertFile(t, b, []byte("new"), 0o600)
}

// TestRemoveTemps: a writer killed mid-write leaves a temporary file (here
// made by writeTemp itself, failing nothing but never renamed);
// RemoveTemps removes it and only it.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key.new")
	var leftovers []string
	for range 2 {
		tmp, err := writeTemp(path, 0o600, func(w io.Writer) error {
			_, err := io.WriteString(w, "half")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		leftovers = append(leftovers, tmp)
	}
	keep := []string{"master.key", "master.key.new", ".master.key.tmp1", "other"}
	for _, name := range keep {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := RemoveTemps(path)
	if err != nil || n != len(leftovers) {
		t.Fatalf("RemoveTemps = %d, %v; want %d", n, err, len(leftovers))
	}
	got := dirNames(t, dir)
	if strings.Join(got, ",") != ".master.key.tmp1,master.key,master.key.new,other" {
		t.Fatalf("directory holds %q", got)
	}
	if n, err := RemoveTemps(path); err != nil || n != 0 {
		t.Fatalf("second RemoveTemps = %d, %v", n, err)
	}
	if _, err := RemoveTemps(filepath.Join(dir, "missing", "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RemoveTemps in a missing directory: %v", err)
	}
}
