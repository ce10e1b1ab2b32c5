// Package atomicfile writes files the one way hush writes files: readers
// see the old content or the new, never a part of it, and once a call
// returns the new content survives a crash or a power cut.
//
// Every write goes to a temporary file in the same directory as the target
// (named "."+base+".tmp" and a random suffix, so a crashed writer's leftover
// is recognisable, see RemoveTemps), is fsynced, gets the requested mode and
// is then renamed (Write) or hard-linked (Create) into place, after which the
// directory is fsynced so the new name is durable too. Every failure removes
// the temporary file and leaves the target as it was, and every failure is
// returned: nothing is skipped silently.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// tempInfix separates a target's base name from the random suffix of its
// temporary files: ".master.key" + ".tmp" + "123456".
const tempInfix = ".tmp"

// Write replaces the file at path with data, mode perm. A symbolic link at
// path is replaced by the file, not followed (resolve it first to write
// through it). The directory must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for content produced by write, which gets the
// temporary file to write to. When write fails, the temporary file is
// removed, path is left untouched, and the error is returned wrapped.
func WriteFunc(path string, perm fs.FileMode, write func(io.Writer) error) error {
	tmp, err := writeTemp(path, perm, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, errors.Join(err, removeTemp(tmp)))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: the new content is in place but may not survive a crash: %w", path, err)
	}
	return nil
}

// Create writes data to a new file at path, mode perm, and fails with an
// error wrapping fs.ErrExist when path exists already, in which case the
// existing file is untouched. Of several processes creating the same path at
// once exactly one succeeds, and no one ever sees the file incomplete
// (hush serve's first start creates the master key this way). The file
// system must support hard links.
func Create(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	if err := errors.Join(os.Link(tmp, path), removeTemp(tmp)); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create %s: the file is in place but may not survive a crash: %w", path, err)
	}
	return nil
}

// Rename renames oldpath to newpath, replacing newpath, and fsyncs the
// directory so the rename survives a crash. Both must be in one directory
// (the directory of newpath is the one synced).
func Rename(oldpath, newpath string) error {
	if filepath.Dir(oldpath) != filepath.Dir(newpath) {
		return fmt.Errorf("rename %s to %s: not in the same directory", oldpath, newpath)
	}
	if err := os.Rename(oldpath, newpath); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	if err := syncDir(filepath.Dir(newpath)); err != nil {
		return fmt.Errorf("rename %s to %s: done but may not survive a crash: %w", oldpath, newpath, err)
	}
	return nil
}

// RemoveTemps removes the temporary files that writers of path killed
// mid-write (by a crash or SIGKILL) left in path's directory. It returns how
// many it removed. Call it only when no other process may be writing path
// at the same time: it would remove that writer's temporary file too, and
// the writer would then fail (leaving path as it was).
func RemoveTemps(path string) (int, error) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+tempInfix
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("look for temporary files of %s: %w", path, err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove temporary file of %s: %w", path, err)
		}
		n++
	}
	return n, nil
}

// writeTemp creates a temporary file beside path with mode perm, fills it
// with write, fsyncs and closes it, and returns its name. On failure the
// file is removed.
func writeTemp(path string, perm fs.FileMode, write func(io.Writer) error) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // closed already, or failing: err says why we stopped
			err = errors.Join(err, removeTemp(f.Name()))
		}
	}()
	// The mode is set before any byte is written, so content meant for
	// 0600 never sits in a file others can read.
	if err := f.Chmod(perm); err != nil {
		return "", fmt.Errorf("write %s: set mode: %w", path, err)
	}
	if err := write(f); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: close: %w", path, err)
	}
	return f.Name(), nil
}

// removeTemp removes the temporary file name; its error says the file was
// left behind.
func removeTemp(name string) error {
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// syncDir fsyncs the directory dir, making the names in it durable. Windows
// cannot open a directory for syncing, and needs no such step.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close() // the sync error is the one to report
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
