// Package seal encrypts secret values before they reach a store, so that
// neither the bolt file nor the PostgreSQL rows ever hold a plaintext value.
//
// It is envelope encryption: every value is sealed with AES-256-GCM under one
// random 32-byte data key (DEK) per installation, and the data key is itself
// sealed (wrapped) with AES-256-GCM under a 32-byte master key (KEK) that
// never touches the store. The wrapped data key lives in the store's Meta
// table under DataKeyName, so rotating the master key (Rewrap) re-encrypts 32
// bytes, not every value.
//
// Each sealed value binds its scope (canonical, secrets.ScopeKey) and key as
// associated data, so a ciphertext copied to another scope or key, or altered
// in any byte, fails to open.
//
// MasterKeyConfig owns the master key's life outside the store: it takes
// the key as a value or keeps it in a 0600 key file beside the data
// (created on first use), rotates it (Rewrap plus a crash-safe replacement
// of the key file) and finishes a rotation that was cut short.
package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hush-secrets/hush/internal/secrets"
)

// KeySize is the size in bytes of the master key and of the data key.
const KeySize = 32

// DataKeyName is the Meta name under which the wrapped data key is stored.
const DataKeyName = "seal/datakey"

// Format versions: the first byte of every sealed value and of the wrapped data key.
const (
	valueV1   byte = 1
	dataKeyV1 byte = 1
)

const nonceSize = 12 // the standard AES-GCM nonce size

// ErrWrongMasterKey means the master key given cannot unwrap the stored data
// key: it is not the key this store was created (or last re-wrapped) with.
var ErrWrongMasterKey = errors.New("master key does not match the one this store was created with")

// ErrOpen means a sealed value could not be opened: it is corrupt, was
// tampered with, or was sealed for another scope or key.
var ErrOpen = errors.New("sealed value cannot be opened (corrupt, tampered with, or sealed for another scope or key)")

// MetaStore keeps the wrapped data key. It has the method set of store.Meta,
// so every store.Store satisfies it.
type MetaStore interface {
	// InitMeta stores value under name unless a value is there already, and
	// returns the value now stored.
	InitMeta(ctx context.Context, name string, value []byte) ([]byte, error)
	// GetMeta returns the stored value (an error wrapping store.ErrNotFound if none).
	GetMeta(ctx context.Context, name string) ([]byte, error)
	// PutMeta overwrites the value.
	PutMeta(ctx context.Context, name string, value []byte) error
}

// Sealer seals and opens secret values with the installation's data key. It
// is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// Open loads the installation's data key from meta, unwrapping it with
// masterKey, or creates one if the store has none yet. Replicas starting at
// once on a fresh store agree on one data key (through InitMeta). A master
// key other than the one the store was created with gives ErrWrongMasterKey.
func Open(ctx context.Context, meta MetaStore, masterKey []byte) (*Sealer, error) {
	if err := checkKey("master key", masterKey); err != nil {
		return nil, err
	}
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("seal: generate data key: %w", err)
	}
	wrapped, err := wrapDataKey(masterKey, dek)
	if err != nil {
		return nil, err
	}
	stored, err := meta.InitMeta(ctx, DataKeyName, wrapped)
	if err != nil {
		return nil, fmt.Errorf("seal: load data key: %w", err)
	}
	dek, err = unwrapDataKey(masterKey, stored)
	if err != nil {
		return nil, err
	}
	return newSealer(dek)
}

// Rewrap re-encrypts the stored data key from oldMaster to newMaster (for
// `hush serve rotate-master-key`). Sealed values are untouched and open with
// a Sealer made from newMaster afterwards. It fails with ErrWrongMasterKey if
// oldMaster does not unwrap the stored key, and changes nothing then.
func Rewrap(ctx context.Context, meta MetaStore, oldMaster, newMaster []byte) error {
	if err := checkKey("old master key", oldMaster); err != nil {
		return err
	}
	if err := checkKey("new master key", newMaster); err != nil {
		return err
	}
	stored, err := meta.GetMeta(ctx, DataKeyName)
	if err != nil {
		return fmt.Errorf("seal: rewrap: load data key: %w", err)
	}
	dek, err := unwrapDataKey(oldMaster, stored)
	if err != nil {
		return fmt.Errorf("seal: rewrap: %w", err)
	}
	wrapped, err := wrapDataKey(newMaster, dek)
	if err != nil {
		return fmt.Errorf("seal: rewrap: %w", err)
	}
	if err := meta.PutMeta(ctx, DataKeyName, wrapped); err != nil {
		return fmt.Errorf("seal: rewrap: store data key: %w", err)
	}
	return nil
}

// Seal encrypts plaintext for the secret key in scope. The result starts
// with a version byte, then a random nonce, then the AES-GCM ciphertext and
// tag; it opens only with the same data key, scope (in any case) and key.
func (s *Sealer) Seal(scope, key string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+s.aead.Overhead())
	out[0] = valueV1
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("seal: generate nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, associatedData(valueV1, scope, key)), nil
}

// Open decrypts a value sealed by Seal for the same scope and key. Any
// mismatch or corruption gives an error wrapping ErrOpen; the error never
// contains the value.
func (s *Sealer) Open(scope, key string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+s.aead.Overhead() {
		return nil, fmt.Errorf("seal: open %s/%s: too short (%d bytes): %w", scope, key, len(sealed), ErrOpen)
	}
	if sealed[0] != valueV1 {
		return nil, fmt.Errorf("seal: open %s/%s: unknown format version %d: %w", scope, key, sealed[0], ErrOpen)
	}
	nonce := sealed[1 : 1+nonceSize]
	pt, err := s.aead.Open(nil, nonce, sealed[1+nonceSize:], associatedData(valueV1, scope, key))
	if err != nil {
		return nil, fmt.Errorf("seal: open %s/%s: %w", scope, key, ErrOpen)
	}
	return pt, nil
}

// associatedData binds the format version, the canonical scope name and the
// key, each length-prefixed so that no two (scope, key) pairs share an encoding.
func associatedData(version byte, scope, key string) []byte {
	scope = secrets.ScopeKey(scope)
	ad := make([]byte, 0, len("hush/value")+1+8+len(scope)+len(key))
	ad = append(ad, "hush/value"...)
	ad = append(ad, version)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(scope)))
	ad = append(ad, scope...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(key)))
	ad = append(ad, key...)
	return ad
}

// dataKeyAD is the associated data of the wrapped data key, so that a sealed
// value can never be mistaken for it or the other way round.
var dataKeyAD = []byte("hush/datakey\x01")

func wrapDataKey(master, dek []byte) ([]byte, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(dek)+aead.Overhead())
	out[0] = dataKeyV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: generate nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], dek, dataKeyAD), nil
}

func unwrapDataKey(master, wrapped []byte) ([]byte, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	if len(wrapped) != 1+nonceSize+KeySize+aead.Overhead() || wrapped[0] != dataKeyV1 {
		return nil, fmt.Errorf("seal: stored data key %q is malformed (%d bytes)", DataKeyName, len(wrapped))
	}
	dek, err := aead.Open(nil, wrapped[1:1+nonceSize], wrapped[1+nonceSize:], dataKeyAD)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", ErrWrongMasterKey)
	}
	return dek, nil
}

func newSealer(dek []byte) (*Sealer, error) {
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

func checkKey(what string, key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("seal: %s must be %d bytes, got %d", what, KeySize, len(key))
	}
	return nil
}
