package seal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// memMeta is an in-memory MetaStore; InitMeta is atomic under mu.
type memMeta struct {
	mu sync.Mutex
	m  map[string][]byte
	// inits counts InitMeta calls, so a test can see both racers went through it.
	inits int
}

var errNotFound = errors.New("not found")

func newMemMeta() *memMeta { return &memMeta{m: map[string][]byte{}} }

func (m *memMeta) InitMeta(_ context.Context, name string, value []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inits++
	if v, ok := m.m[name]; ok {
		return bytes.Clone(v), nil
	}
	m.m[name] = bytes.Clone(value)
	return bytes.Clone(value), nil
}

func (m *memMeta) GetMeta(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[name]
	if !ok {
		return nil, fmt.Errorf("meta %q: %w", name, errNotFound)
	}
	return bytes.Clone(v), nil
}

func (m *memMeta) PutMeta(_ context.Context, name string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[name] = bytes.Clone(value)
	return nil
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustOpen(t *testing.T, meta MetaStore, master []byte) *Sealer {
	t.Helper()
	s, err := Open(context.Background(), meta, master)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustOpen(t, newMemMeta(), mustKey(t))
	for _, pt := range [][]byte{nil, []byte("x"), []byte("hunter2-very-secret"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 32<<10)} {
		sealed, err := s.Seal("Scope", "key", pt)
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != valueV1 {
			t.Fatalf("version byte = %d", sealed[0])
		}
		if len(pt) >= 4 && !redacttest.AssertNoSecret(t, sealed, pt) {
			t.Fatal("sealed value contains the plaintext")
		}
		got, err := s.Open("Scope", "key", sealed)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip of %d bytes differs", len(pt))
		}
		// Scope names are case-insensitive: the canonical name is bound.
		if _, err := s.Open("SCOPE", "key", sealed); err != nil {
			t.Fatalf("Open with the scope in other case: %v", err)
		}
	}
}

func TestNonceIsRandom(t *testing.T) {
	s := mustOpen(t, newMemMeta(), mustKey(t))
	a, _ := s.Seal("s", "k", []byte("same"))
	b, _ := s.Seal("s", "k", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical")
	}
}

func TestAssociatedDataBinding(t *testing.T) {
	s := mustOpen(t, newMemMeta(), mustKey(t))
	sealed, err := s.Seal("ab", "c", []byte("the value"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ scope, key string }{
		{"other", "c"},
		{"ab", "d"},
		{"ab", "C"}, // keys are case-sensitive
		{"a", "bc"}, // length prefixes keep "ab"+"c" apart from "a"+"bc"
		{"abc", ""},
	}
	for _, c := range cases {
		if _, err := s.Open(c.scope, c.key, sealed); !errors.Is(err, ErrOpen) {
			t.Errorf("Open(%q, %q) err = %v, want ErrOpen", c.scope, c.key, err)
		}
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := s.Open("ab", "c", bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("flipping byte %d: err = %v, want ErrOpen", i, err)
		}
	}
	for _, n := range []int{0, 1, 12, len(sealed) - 1} {
		if _, err := s.Open("ab", "c", sealed[:n]); !errors.Is(err, ErrOpen) {
			t.Fatalf("truncated to %d: err = %v, want ErrOpen", n, err)
		}
	}
	if _, err := s.Open("ab", "c", append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrOpen) {
		t.Fatalf("extended: err = %v, want ErrOpen", err)
	}
}

func TestErrorsDoNotContainValue(t *testing.T) {
	s := mustOpen(t, newMemMeta(), mustKey(t))
	value := []byte("do-not-print-me-123")
	sealed, _ := s.Seal("s", "k", value)
	_, err := s.Open("s", "other", sealed)
	if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), value) {
		t.Fatal("no error, or one that quotes the value")
	}
}

func TestWrongMasterKey(t *testing.T) {
	meta := newMemMeta()
	mustOpen(t, meta, mustKey(t))
	_, err := Open(context.Background(), meta, mustKey(t))
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("err = %v, want ErrWrongMasterKey", err)
	}
	if !strings.Contains(err.Error(), "master key does not match the one this store was created with") {
		t.Fatalf("message = %q", err)
	}
	if _, err := Open(context.Background(), meta, []byte("short")); err == nil {
		t.Fatal("a 5-byte master key was accepted")
	}
}

func TestReopenSameKeyOpensOldValues(t *testing.T) {
	meta := newMemMeta()
	master := mustKey(t)
	sealed, _ := mustOpen(t, meta, master).Seal("s", "k", []byte("v"))
	got, err := mustOpen(t, meta, master).Open("s", "k", sealed)
	if err != nil || string(got) != "v" {
		t.Fatalf("reopen: %q, %v", got, err)
	}
}

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	meta := newMemMeta()
	oldK, newK := mustKey(t), mustKey(t)
	sealed, _ := mustOpen(t, meta, oldK).Seal("s", "k", []byte("value"))

	// Wrong old key: refused and nothing changes.
	before, _ := meta.GetMeta(ctx, DataKeyName)
	if err := Rewrap(ctx, meta, mustKey(t), newK); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Rewrap with wrong old key: %v", err)
	}
	after, _ := meta.GetMeta(ctx, DataKeyName)
	if !bytes.Equal(before, after) {
		t.Fatal("failed Rewrap changed the stored data key")
	}

	if err := Rewrap(ctx, meta, oldK, newK); err != nil {
		t.Fatal(err)
	}
	got, err := mustOpen(t, meta, newK).Open("s", "k", sealed)
	if err != nil || string(got) != "value" {
		t.Fatalf("open with new key after rewrap: %q, %v", got, err)
	}
	if _, err := Open(ctx, meta, oldK); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("old key still opens after rewrap: %v", err)
	}
	if err := Rewrap(ctx, newMemMeta(), oldK, newK); !errors.Is(err, errNotFound) {
		t.Fatalf("Rewrap of an empty store: %v", err)
	}
}

func TestConcurrentOpenAgree(t *testing.T) {
	meta := newMemMeta()
	master := mustKey(t)
	const n = 8
	sealers := make([]*Sealer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), meta, master)
			if err != nil {
				t.Error(err)
				return
			}
			sealers[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sealed, _ := sealers[0].Seal("s", "k", []byte("v"))
	for i, s := range sealers {
		if _, err := s.Open("s", "k", sealed); err != nil {
			t.Fatalf("sealer %d does not share the data key: %v", i, err)
		}
	}
}

func TestParseMasterKey(t *testing.T) {
	k := bytes.Repeat([]byte{0xab, 0xcd, 0xef, 0x12}, 8)
	for _, text := range []string{
		hex.EncodeToString(k),
		strings.ToUpper(hex.EncodeToString(k)),
		base64.StdEncoding.EncodeToString(k),
		base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k),
		"  " + base64.StdEncoding.EncodeToString(k) + "\n",
	} {
		got, err := ParseMasterKey(text)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseMasterKey(%q) = %x, %v", text, got, err)
		}
	}
	for _, text := range []string{
		"",
		"secret-passphrase-not-a-key",
		hex.EncodeToString(k[:16]),
		base64.StdEncoding.EncodeToString(k[:31]),
		base64.StdEncoding.EncodeToString(append(bytes.Clone(k), 1)),
	} {
		_, err := ParseMasterKey(text)
		if err == nil {
			t.Errorf("ParseMasterKey(%q) accepted", text)
			continue
		}
		redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(text))
	}
}

// valueName is the ValueName the tests give, as hush serve does.
const valueName = "HUSH_MASTER_KEY"

func keyConfig(value, dir string) MasterKeyConfig {
	return MasterKeyConfig{Value: value, ValueName: valueName, Dir: dir}
}

func TestLoadMasterKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	k := mustKey(t)
	got, source, warning, err := keyConfig(EncodeMasterKey(k), dir).Load()
	if err != nil || !bytes.Equal(got, k) || source != valueName || warning != "" {
		t.Fatalf("got %x, %q, %q, %v", got, source, warning, err)
	}
	if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a key file was created although the env var was set: %v", err)
	}
	_, _, _, err = keyConfig("not-a-key-value", dir).Load()
	if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("not-a-key-value")) {
		t.Fatal("bad env value: no error, or one that quotes the value")
	}
	if !strings.Contains(err.Error(), valueName) {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, source, warning, err := keyConfig("", dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, MasterKeyFile)
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"source": []byte(source), "warning": []byte(warning)}, k1, []byte(EncodeMasterKey(k1))) {
		t.Fatal("key in source or warning")
	}
	if !strings.Contains(source, path) || !strings.Contains(warning, path) || !strings.Contains(warning, valueName) {
		t.Fatalf("source %q warning %q", source, warning)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 0600", fi.Mode().Perm())
	}
	k2, _, _, err := keyConfig("", dir).Load()
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load gave another key: %v", err)
	}

	// Group/world-readable key files are refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := keyConfig("", dir).Load(); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("0644 key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	// WriteMasterKeyFile replaces it, keeping 0600.
	k3 := mustKey(t)
	if err := WriteMasterKeyFile(path, k3); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := keyConfig("", dir).Load()
	if err != nil || !bytes.Equal(got, k3) {
		t.Fatalf("after WriteMasterKeyFile: %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := keyConfig("", dir).Load(); err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("garbage")) {
		t.Fatal("garbage key file: no error, or one that quotes the file")
	}
}

func TestLoadMasterKeyFileRace(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, _, err := keyConfig("", dir).Load()
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(keys[0], keys[i]) {
			t.Fatalf("racing loaders got different keys")
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only the key file", len(entries))
	}
}

// FuzzOpen feeds arbitrary bytes to Open: it must never panic, and nothing
// but the genuine ciphertext for the genuine scope and key may open.
func FuzzOpen(f *testing.F) {
	meta := newMemMeta()
	master := bytes.Repeat([]byte{7}, KeySize)
	s, err := Open(context.Background(), meta, master)
	if err != nil {
		f.Fatal(err)
	}
	genuine, _ := s.Seal("scope", "key", []byte("value"))
	f.Add(genuine, "scope", "key")
	f.Add(genuine[:13], "scope", "key")
	f.Add([]byte{}, "", "")
	f.Add([]byte{1}, "scope", "key")
	f.Add(append([]byte{2}, genuine[1:]...), "scope", "key")
	f.Fuzz(func(t *testing.T, sealed []byte, scope, key string) {
		pt, err := s.Open(scope, key, sealed)
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("error %v does not wrap ErrOpen", err)
			}
			return
		}
		if !bytes.Equal(sealed, genuine) || string(pt) != "value" || strings.ToLower(scope) != "scope" || key != "key" {
			t.Fatalf("opened a forgery: %x under %q/%q", sealed, scope, key)
		}
	})
}

func TestReadMasterKeyNeverCreates(t *testing.T) {
	dir := t.TempDir()
	_, _, err := keyConfig("", dir).Read()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), valueName) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("ReadMasterKey created %v", entries)
	}
	k, _, _, err := keyConfig("", dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	got, source, err := keyConfig("", dir).Read()
	if err != nil || !bytes.Equal(got, k) || !strings.Contains(source, MasterKeyFile) {
		t.Fatalf("ReadMasterKey = %q, %v", source, err)
	}
	k2 := mustKey(t)
	got, source, err = keyConfig(hex.EncodeToString(k2), dir).Read()
	if err != nil || !bytes.Equal(got, k2) || source != valueName {
		t.Fatalf("ReadMasterKey from env = %q, %v", source, err)
	}
	if _, _, err := keyConfig("nonsense", dir).Read(); err == nil {
		t.Fatal("bad env value accepted")
	}
}
