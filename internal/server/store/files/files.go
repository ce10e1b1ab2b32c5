// Package files reads read-only secret scopes backed by a directory of
// files, one file per key: the Kubernetes and Docker secret-mount convention
// (hush's counterpart of Key Vault-backed scopes).
//
// A scope's directory is given relative to a root that the server's admin
// configures, and nothing outside that root is ever read: relative paths
// with "..", absolute paths and symbolic links that resolve outside the root
// are refused. Symbolic links that stay inside the root are followed, which
// is how Kubernetes lays out a mounted secret:
//
//	dir/..2024_05_06_07_08_09.123456789/password   the files
//	dir/..data -> ..2024_05_06_07_08_09.123456789   swapped atomically on update
//	dir/password -> ..data/password                 what readers open
//
// Entries whose names start with '.' (such as ..data) and entries whose
// names are not valid secret keys (secrets.ValidateName) are not keys.
package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// ErrEscapesRoot means a scope path or key resolves outside the files root.
var ErrEscapesRoot = errors.New("resolves outside the files root")

// ErrTooLarge means a key's file is larger than secrets.MaxValueBytes, the
// limit of a secret value; it is not read.
var ErrTooLarge = errors.New("larger than the secret value limit")

// CheckDir verifies that rel names a directory under root, for the server
// to call when a files scope is created. Errors wrap store.ErrNotFound (no
// such directory) or ErrEscapesRoot.
func CheckDir(root, rel string) error {
	d, err := openDir(root, rel)
	if err != nil {
		return err
	}
	d.close()
	return nil
}

// List returns the keys of the scope directory rel under root, ordered by
// name, with the modification time of each file as UpdatedAt. A missing
// directory gives an error wrapping store.ErrNotFound.
func List(root, rel string) ([]secrets.SecretMeta, error) {
	d, err := openDir(root, rel)
	if err != nil {
		return nil, err
	}
	defer d.close()
	f, err := d.root.Open(d.rel)
	if err != nil {
		return nil, fmt.Errorf("files scope %q: %w", rel, err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("files scope %q: list: %w", rel, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	out := []secrets.SecretMeta{}
	for _, e := range entries {
		if !isKeyName(e.Name()) {
			continue
		}
		p, err := d.resolve(filepath.Join(d.rel, e.Name()))
		if err != nil {
			continue // dangling, or pointing outside the root
		}
		fi, err := d.root.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, secrets.SecretMeta{Key: e.Name(), UpdatedAt: fi.ModTime().UTC()})
	}
	return out, nil
}

// Read returns the contents of the file key in the scope directory rel
// under root. A missing scope directory or key, a key that is not a valid
// name, a key that is not a regular file, or one that resolves outside the
// root gives an error wrapping store.ErrNotFound. Files larger than
// secrets.MaxValueBytes are refused.
func Read(root, rel, key string) ([]byte, error) {
	if !isKeyName(key) {
		return nil, fmt.Errorf("files scope %q: key %q is not a valid key name: %w", rel, key, store.ErrNotFound)
	}
	d, err := openDir(root, rel)
	if err != nil {
		return nil, err
	}
	defer d.close()
	p, err := d.resolve(filepath.Join(d.rel, key))
	if err != nil {
		return nil, fmt.Errorf("files scope %q: key %q: %w (%w)", rel, key, store.ErrNotFound, err)
	}
	// Stat before opening: opening a FIFO or a device could block or have effects.
	if fi, err := d.root.Stat(p); err != nil {
		return nil, fmt.Errorf("files scope %q: key %q: %w", rel, key, notFound(err))
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("files scope %q: key %q is not a regular file: %w", rel, key, store.ErrNotFound)
	}
	f, err := d.root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("files scope %q: key %q: %w", rel, key, notFound(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("files scope %q: key %q: %w", rel, key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("files scope %q: key %q is not a regular file: %w", rel, key, store.ErrNotFound)
	}
	b, err := io.ReadAll(io.LimitReader(f, secrets.MaxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("files scope %q: key %q: read: %w", rel, key, err)
	}
	if len(b) > secrets.MaxValueBytes {
		return nil, fmt.Errorf("files scope %q: key %q is %w of %d bytes", rel, key, ErrTooLarge, secrets.MaxValueBytes)
	}
	return b, nil
}

// isKeyName reports whether a directory entry name is a key: a valid
// secret name not starting with '.' (which also excludes "." and "..").
func isKeyName(name string) bool {
	return !strings.HasPrefix(name, ".") && secrets.ValidateName("key", name) == nil
}

// dir is an opened scope directory: the root as an os.Root (so nothing
// below can reach outside it, even if links change between check and use)
// and the directory's symlink-free path relative to the root.
type dir struct {
	root     *os.Root
	realRoot string
	rel      string
}

func (d dir) close() { d.root.Close() }

func openDir(root, rel string) (dir, error) {
	if err := checkRel(rel); err != nil {
		return dir{}, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return dir{}, fmt.Errorf("files root %s: %w", root, err)
	}
	realRoot, err = filepath.Abs(realRoot)
	if err != nil {
		return dir{}, fmt.Errorf("files root %s: %w", root, err)
	}
	r, err := os.OpenRoot(realRoot)
	if err != nil {
		return dir{}, fmt.Errorf("files root %s: %w", root, err)
	}
	d := dir{root: r, realRoot: realRoot}
	p, err := d.resolve(rel)
	if err != nil {
		r.Close()
		return dir{}, fmt.Errorf("files scope %q: %w", rel, err)
	}
	fi, err := r.Stat(p)
	if err != nil {
		r.Close()
		return dir{}, fmt.Errorf("files scope %q: %w", rel, notFound(err))
	}
	if !fi.IsDir() {
		r.Close()
		return dir{}, fmt.Errorf("files scope %q is not a directory: %w", rel, store.ErrNotFound)
	}
	d.rel = p
	return d, nil
}

// checkRel refuses absolute paths and any ".." component outright, before
// looking at the file system.
func checkRel(rel string) error {
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) || filepath.VolumeName(rel) != "" {
		return fmt.Errorf("files scope path %q must be relative to the files root: %w", rel, ErrEscapesRoot)
	}
	for _, part := range strings.FieldsFunc(rel, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return fmt.Errorf("files scope path %q must not contain \"..\": %w", rel, ErrEscapesRoot)
		}
	}
	return nil
}

// resolve follows the symbolic links of p (relative to the root) and
// returns the resulting path relative to the root, or an error wrapping
// ErrEscapesRoot or store.ErrNotFound.
func (d dir) resolve(p string) (string, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(d.realRoot, p))
	if err != nil {
		return "", notFound(err)
	}
	r, err := filepath.Rel(d.realRoot, real)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", ErrEscapesRoot
	}
	return r, nil
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (%w)", store.ErrNotFound, err)
	}
	return err
}
