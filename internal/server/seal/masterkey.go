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
)

// MasterKeyEnv is the environment variable that holds the master key.
const MasterKeyEnv = "HUSH_MASTER_KEY"

// MasterKeyFile is the name of the key file in the data directory, used when
// MasterKeyEnv is not set.
const MasterKeyFile = "master.key"

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

// LoadMasterKey finds the master key: envValue (the value of
// HUSH_MASTER_KEY, passed by the caller) when it is not empty, otherwise the
// key file dataDir/master.key, which is created with a random key and mode
// 0600 if it does not exist yet. A key file readable by group or others is
// refused. source says where the key came from (for a log line); warning is
// non-empty when the key sits beside the data it protects, which the caller
// should log. Neither ever contains the key.
func LoadMasterKey(envValue, dataDir string) (key []byte, source, warning string, err error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := ParseMasterKey(envValue)
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", MasterKeyEnv, err)
		}
		return k, MasterKeyEnv, "", nil
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = createKeyFile(path)
	}
	if err != nil {
		return nil, "", "", err
	}
	warning = fmt.Sprintf("the master key is in %s, beside the data it encrypts: anyone who copies the data directory can decrypt every secret; set %s from a secret manager instead", path, MasterKeyEnv)
	return k, "file " + path, warning, nil
}

// ReadMasterKey is LoadMasterKey without creating anything: for commands
// such as `hush serve rotate-master-key` that need the existing key. A
// missing key file gives an error wrapping fs.ErrNotExist.
func ReadMasterKey(envValue, dataDir string) (key []byte, source string, err error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := ParseMasterKey(envValue)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", MasterKeyEnv, err)
		}
		return k, MasterKeyEnv, nil
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("no master key: %s is not set and %s does not exist: %w", MasterKeyEnv, path, err)
	}
	if err != nil {
		return nil, "", err
	}
	return k, "file " + path, nil
}

// WriteMasterKeyFile replaces (or creates) the key file at path with key,
// atomically and with mode 0600, for `hush serve rotate-master-key`.
func WriteMasterKeyFile(path string, key []byte) error {
	if err := checkKey("master key", key); err != nil {
		return err
	}
	tmp, err := writeTemp(path, key)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write master key file: %w", err)
	}
	return syncDir(filepath.Dir(path))
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
// not at all (written aside, then hard-linked into place).
func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	tmp, err := writeTemp(path, k)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return k, nil
}

func writeTemp(path string, key []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("write master key file: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(EncodeMasterKey(key) + "\n"); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write master key file: %w", err)
	}
	return name, nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
