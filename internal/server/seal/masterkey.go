package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hush-secrets/hush/internal/atomicfile"
)

// MasterKeyFile is the name of the key file in the data directory, used when
// no key is given as a value.
const MasterKeyFile = "master.key"

// MasterKeyConfig says where the master key is: given as text in Value
// (hush serve takes it from HUSH_MASTER_KEY), or else kept in the key file
// Dir/master.key. Its methods create, load, rotate and recover the key;
// the package never reads the environment itself.
type MasterKeyConfig struct {
	// Value is the key as text (see ParseMasterKey). When it is not blank
	// it is the key, and no key file is read or written.
	Value string
	// ValueName names where Value comes from (hush serve:
	// "HUSH_MASTER_KEY"), for messages, sources and warnings; default
	// "the master key value".
	ValueName string
	// Dir is the data directory that holds the key file when Value is blank.
	Dir string
}

// usesValue reports whether the key is Value rather than the key file.
func (c MasterKeyConfig) usesValue() bool { return strings.TrimSpace(c.Value) != "" }

func (c MasterKeyConfig) valueName() string {
	if c.ValueName == "" {
		return "the master key value"
	}
	return c.ValueName
}

// KeyPath is the path of the key file: Dir/master.key.
func (c MasterKeyConfig) KeyPath() string { return filepath.Join(c.Dir, MasterKeyFile) }

// GenerateMasterKey returns a new random master key.
func GenerateMasterKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	return k, nil
}

// EncodeMasterKey returns the text form of a master key (standard base64),
// as written to the key file and accepted by ParseMasterKey.
func EncodeMasterKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ParseMasterKey decodes a master key given as text: 64 hex digits, or
// base64 (standard or URL alphabet, padded or not) of 32 bytes. Surrounding
// white space is ignored. The error never repeats the text.
func ParseMasterKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, errors.New("master key is empty")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("master key must be %d random bytes written as 64 hex digits or as base64 (e.g. `openssl rand -base64 32`); the value given (%d characters) is neither", KeySize, len(s))
}

// Load finds the master key for hush serve: Value when it is not blank,
// otherwise the key file, which is created with a random key and mode 0600
// if it does not exist yet. A key file readable by group or others is
// refused. source says where the key came from (for a log line); warning is
// non-empty when the key sits beside the data it protects, which the caller
// should log. Neither ever contains the key, nor does an error.
func (c MasterKeyConfig) Load() (key []byte, source, warning string, err error) {
	if c.usesValue() {
		k, err := c.parseValue()
		return k, c.valueName(), "", err
	}
	path := c.KeyPath()
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = createKeyFile(path)
	}
	if err != nil {
		return nil, "", "", err
	}
	warning = fmt.Sprintf("the master key is in %s, beside the data it encrypts: anyone who copies the data directory can decrypt every secret; set %s from a secret manager instead", path, c.valueName())
	return k, "file " + path, warning, nil
}

// Read is Load without creating anything: for `hush serve
// rotate-master-key`, which needs the existing key. A missing key file
// gives an error wrapping fs.ErrNotExist.
func (c MasterKeyConfig) Read() (key []byte, source string, err error) {
	if c.usesValue() {
		k, err := c.parseValue()
		return k, c.valueName(), err
	}
	path := c.KeyPath()
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("no master key: %s is not set and %s does not exist: %w", c.valueName(), path, err)
	}
	if err != nil {
		return nil, "", err
	}
	return k, "file " + path, nil
}

func (c MasterKeyConfig) parseValue() ([]byte, error) {
	k, err := ParseMasterKey(c.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.valueName(), err)
	}
	return k, nil
}

// WriteMasterKeyFile replaces (or creates) the key file at path with key,
// atomically, durably and with mode 0600 (see package atomicfile).
func WriteMasterKeyFile(path string, key []byte) error {
	if err := checkKey("master key", key); err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(EncodeMasterKey(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write master key file: %w", err)
	}
	return nil
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("master key file %s is a directory", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: it must not be readable by group or others (run: chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	k, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new random key to path unless another process got
// there first, in which case it reads that one: the file appears complete or
// not at all (see atomicfile.Create).
func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	err = atomicfile.Create(path, []byte(EncodeMasterKey(k)+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	return k, nil
}
