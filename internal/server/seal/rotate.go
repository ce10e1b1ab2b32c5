package seal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hush-secrets/hush/internal/atomicfile"
	"github.com/hush-secrets/hush/internal/server/store"
)

// PendingKeyFile is the name of the file, beside the key file, that holds
// the new key while Rotate re-wraps the data key.
const PendingKeyFile = MasterKeyFile + ".new"

// PendingKeyPath is the path of the pending key file: Dir/master.key.new.
func (c MasterKeyConfig) PendingKeyPath() string { return filepath.Join(c.Dir, PendingKeyFile) }

// Rotation says what Rotate did.
type Rotation struct {
	// OldSource says where the replaced key came from, as Load's source.
	OldSource string
	// KeyFile is the key file that now holds the new key; empty when the
	// old key was the Value, which the caller must now set to the new key.
	KeyFile string
}

// CheckRotation fails, before anything is opened or created, when Rotate
// could not find the current key: no Value and no key file. A pending key
// file left by an interrupted rotation defers the check to Rotate, after
// Recover has settled which file holds the key. Rotate never creates a
// key: that would be a key nothing is wrapped with.
func (c MasterKeyConfig) CheckRotation() error {
	if !c.usesValue() {
		if _, err := os.Stat(c.PendingKeyPath()); err == nil {
			return nil
		}
	}
	if _, _, err := c.Read(); err != nil {
		return fmt.Errorf("current master key (nothing was changed): %w", err)
	}
	return nil
}

// Rotate re-wraps the data key in meta from the current master key to
// newKey (for `hush serve rotate-master-key`, with every hush serve on the
// store stopped). Secret values are not touched.
//
// When the key is the Value, only the store changes, and the caller must
// set the Value to newKey for the next start. When it is the key file, the
// steps are ordered so that a crash at any point leaves a key on disk that
// opens the store:
//
//  1. the new key is written, durably, to master.key.new (master.key, the
//     old key, still opens the store);
//  2. the data key is re-wrapped in the store, one durable write (now
//     master.key.new opens the store, master.key does not);
//  3. master.key.new is renamed over master.key, durably.
//
// A crash before 1 completes leaves a temporary file, between 1 and 2 a
// stale master.key.new, between 2 and 3 a master.key that no longer fits.
// Recover, which hush serve and Rotate run before loading the key, settles
// all three.
func (c MasterKeyConfig) Rotate(ctx context.Context, meta MetaStore, newKey []byte) (Rotation, error) {
	if err := checkKey("new master key", newKey); err != nil {
		return Rotation{}, err
	}
	if _, err := c.Recover(ctx, meta); err != nil {
		return Rotation{}, err
	}
	oldKey, source, err := c.Read()
	if err != nil {
		return Rotation{}, fmt.Errorf("current master key (nothing was changed): %w", err)
	}
	if c.usesValue() {
		if err := Rewrap(ctx, meta, oldKey, newKey); err != nil {
			return Rotation{}, fmt.Errorf("rotate master key: %w", err)
		}
		return Rotation{OldSource: source}, nil
	}
	keyPath, pending := c.KeyPath(), c.PendingKeyPath()
	if err := WriteMasterKeyFile(pending, newKey); err != nil {
		return Rotation{}, fmt.Errorf("rotate master key (nothing was changed): %w", err)
	}
	if err := Rewrap(ctx, meta, oldKey, newKey); err != nil {
		if rmErr := os.Remove(pending); rmErr != nil {
			// Recover removes it at the next start: the old key still fits.
			err = errors.Join(err, fmt.Errorf("remove the unused %s: %w", pending, rmErr))
		}
		return Rotation{}, fmt.Errorf("rotate master key (nothing was changed): %w", err)
	}
	if err := atomicfile.Rename(pending, keyPath); err != nil {
		return Rotation{}, fmt.Errorf("the data key is now wrapped by the new key, kept in %s, but it could not replace %s (hush serve retries this at start): %w", pending, keyPath, err)
	}
	return Rotation{OldSource: source, KeyFile: keyPath}, nil
}

// Recover settles a rotation of the key file that was cut short (see
// Rotate). It removes the temporary files a killed writer of
// master.key.new left; then, if master.key.new exists, it is renamed over
// master.key when it, and not master.key, opens the store (promoted is true
// then: the caller must load the key again), and removed when master.key
// still opens the store. When neither opens the store, both are left in
// place and the error wraps ErrWrongMasterKey. With no pending file, or no
// data key in the store yet, it changes nothing else; when the key is the
// Value, the key file is not in use and Recover does nothing.
func (c MasterKeyConfig) Recover(ctx context.Context, meta MetaStore) (promoted bool, err error) {
	if c.usesValue() {
		return false, nil
	}
	keyPath, pending := c.KeyPath(), c.PendingKeyPath()
	if _, err := atomicfile.RemoveTemps(pending); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	text, err := os.ReadFile(pending)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	if _, err := meta.GetMeta(ctx, DataKeyName); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	if cur, err := readKeyFile(keyPath); err == nil {
		ok, err := opens(ctx, meta, cur)
		if err != nil {
			return false, fmt.Errorf("interrupted master key rotation: %w", err)
		}
		if ok { // cut short before the re-wrap: the new key was never used
			if err := os.Remove(pending); err != nil {
				return false, fmt.Errorf("interrupted master key rotation: remove %s: %w", pending, err)
			}
			return false, nil
		}
	}
	newKey, err := ParseMasterKey(string(text))
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %s: %w", pending, err)
	}
	ok, err := opens(ctx, meta, newKey)
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	if !ok {
		return false, fmt.Errorf("interrupted master key rotation: neither %s nor %s opens the store: %w", keyPath, pending, ErrWrongMasterKey)
	}
	if err := atomicfile.Rename(pending, keyPath); err != nil {
		return false, fmt.Errorf("interrupted master key rotation: replace master key file: %w", err)
	}
	return true, nil
}

// opens reports whether key unwraps the data key stored in meta (which
// must hold one: Open would create it otherwise).
func opens(ctx context.Context, meta MetaStore, key []byte) (bool, error) {
	_, err := Open(ctx, meta, key)
	if errors.Is(err, ErrWrongMasterKey) {
		return false, nil
	}
	return err == nil, err
}
