//go:build unix

package files

import (
	"errors"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store"
)

// A FIFO is not a key: listing skips it and reading it fails at once
// instead of blocking until someone writes to it.
func TestFIFOIsNotAKey(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "s", "real"), "v")
	if err := syscall.Mkfifo(filepath.Join(root, "s", "pipe"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	l, err := List(root, "s")
	if err != nil || !slices.Equal(keys(l), []string{"real"}) {
		t.Fatalf("List = %v, %v", keys(l), err)
	}
	if _, err := Read(root, "s", "pipe"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read(pipe): %v", err)
	}
}
