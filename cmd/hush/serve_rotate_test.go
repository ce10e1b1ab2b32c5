package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// rotateFixture is a data directory with a bolt store whose data key is
// wrapped by the key in master.key, and one sealed value.
type rotateFixture struct {
	o       serveOptions
	keyPath string
	pending string // master.key.new
	oldKey  []byte
	sealed  []byte
}

func newRotateFixture(t *testing.T) rotateFixture {
	t.Helper()
	dir := t.TempDir()
	key, _, _, err := seal.MasterKeyConfig{Dir: dir}.Load() // creates master.key, as hush serve does
	if err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, dir)
	sl, err := seal.Open(context.Background(), st, key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sl.Seal("s", "k", []byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return rotateFixture{
		o:       serveOptions{data: dir},
		keyPath: filepath.Join(dir, seal.MasterKeyFile), pending: filepath.Join(dir, seal.PendingKeyFile),
		oldKey: key, sealed: sealed,
	}
}

func openBolt(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(dir, bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// writeKey writes key as a new-key file and returns its path.
func writeKey(t *testing.T, key []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(p, []byte(seal.EncodeMasterKey(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// opensWith asserts that the store in f's data directory opens with key
// (and its sealed value decrypts), or not.
func (f rotateFixture) opensWith(t *testing.T, key []byte, want bool) {
	t.Helper()
	st := openBolt(t, f.o.data)
	defer st.Close()
	sl, err := seal.Open(context.Background(), st, key)
	if !want {
		if !errors.Is(err, seal.ErrWrongMasterKey) {
			t.Fatalf("store opens with a key it should not: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if v, err := sl.Open("s", "k", f.sealed); err != nil || string(v) != "plain" {
		t.Fatalf("sealed value after rotation: %q, %v", v, err)
	}
}

func (f rotateFixture) keyFile(t *testing.T) []byte {
	t.Helper()
	k, _, err := seal.MasterKeyConfig{Dir: f.o.data}.Read()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists (or stat failed: %v)", path, err)
	}
}

func TestRotateMasterKeyFile(t *testing.T) {
	f := newRotateFixture(t)
	k2 := newKey(t)
	var out bytes.Buffer
	if err := runRotate(context.Background(), f.o, writeKey(t, k2), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.keyFile(t), k2) {
		t.Fatal("master.key does not hold the new key")
	}
	noFile(t, f.pending)
	f.opensWith(t, k2, true)
	f.opensWith(t, f.oldKey, false)
	if !redacttest.AssertNoSecret(t, out.Bytes(), k2, []byte(seal.EncodeMasterKey(k2))) {
		t.Fatal("the new key was printed")
	}
}

// TestRotateMasterKeyMissingKey: with neither HUSH_MASTER_KEY nor a key
// file, rotation fails clearly and creates nothing (no random key file, no
// store).
func TestRotateMasterKeyMissingKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := runRotate(context.Background(), serveOptions{data: dir}, writeKey(t, newKey(t)), &bytes.Buffer{})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no master key") {
		t.Fatalf("err = %v, want a clear missing-key error", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("rotation without a key left %d file(s) behind, e.g. %s", len(ents), ents[0].Name())
	}
}

// TestRotateMasterKeyWrongOldKey: a key file that does not open the store
// changes nothing.
func TestRotateMasterKeyWrongOldKey(t *testing.T) {
	f := newRotateFixture(t)
	other := newKey(t)
	if err := seal.WriteMasterKeyFile(f.keyPath, other); err != nil {
		t.Fatal(err)
	}
	err := runRotate(context.Background(), f.o, writeKey(t, newKey(t)), &bytes.Buffer{})
	if !errors.Is(err, seal.ErrWrongMasterKey) {
		t.Fatalf("err = %v, want ErrWrongMasterKey", err)
	}
	noFile(t, f.pending)
	if !bytes.Equal(f.keyFile(t), other) {
		t.Fatal("master.key changed")
	}
	f.opensWith(t, f.oldKey, true)
}

// TestRotateMasterKeyCrashAfterRewrap: the state a crash leaves between the
// re-wrap and the rename (master.key old, master.key.new new, store on the
// new key) is settled by running the rotation again (to k3). The seal
// package tests the recovery itself (TestRecover*).
func TestRotateMasterKeyCrashAfterRewrap(t *testing.T) {
	f := newRotateFixture(t)
	k2 := newKey(t)
	if err := seal.WriteMasterKeyFile(f.pending, k2); err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, f.o.data)
	if err := seal.Rewrap(context.Background(), st, f.oldKey, k2); err != nil {
		t.Fatal(err)
	}
	st.Close()
	f.opensWith(t, f.oldKey, false) // what master.key holds: the unsafe state
	k3 := newKey(t)
	if err := runRotate(context.Background(), f.o, writeKey(t, k3), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.keyFile(t), k3) {
		t.Fatal("master.key does not hold k3")
	}
	noFile(t, f.pending)
	f.opensWith(t, k3, true)
}

// TestRotateMasterKeyFromEnv: hush serve rotate-master-key, run as a
// command, takes the current key from HUSH_MASTER_KEY and the new one from
// HUSH_NEW_MASTER_KEY, changes only the store, and says to set the new key.
func TestRotateMasterKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newKey(t), newKey(t)
	st := openBolt(t, dir)
	if _, err := seal.Open(context.Background(), st, k1); err != nil {
		t.Fatal(err)
	}
	st.Close()
	t.Setenv(envMasterKey, seal.EncodeMasterKey(k1))
	t.Setenv(envNewMasterKey, hex.EncodeToString(k2))
	r := hush(t, nil, "serve", "rotate-master-key", "--data", dir).ok(t)
	if !strings.Contains(r.stdout, "Start hush serve with "+envMasterKey+" set to the new key") {
		t.Fatalf("stdout: %s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, seal.EncodeMasterKey(k2)) || strings.Contains(r.stdout+r.stderr, hex.EncodeToString(k2)) {
		t.Fatal("a key was printed")
	}
	noFile(t, filepath.Join(dir, seal.MasterKeyFile))
	f := rotateFixture{o: serveOptions{data: dir}}
	f.opensWith(t, k1, false)
	st = openBolt(t, dir)
	defer st.Close()
	if _, err := seal.Open(context.Background(), st, k2); err != nil {
		t.Fatalf("the new key does not open the store: %v", err)
	}
}

// TestRotateMasterKeyNoNewKey: without --new-key-file or
// HUSH_NEW_MASTER_KEY the command is a usage error that names both.
func TestRotateMasterKeyNoNewKey(t *testing.T) {
	t.Setenv(envNewMasterKey, "")
	hush(t, nil, "serve", "rotate-master-key", "--data", t.TempDir()).fails(t, 2, envNewMasterKey)
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeFinishesInterruptedRotation: hush serve started on the state a
// crash leaves between the re-wrap and the rename comes up with the new key
// (instead of failing on the old one) and settles the key file.
func TestServeFinishesInterruptedRotation(t *testing.T) {
	f := newRotateFixture(t)
	k2 := newKey(t)
	if err := seal.WriteMasterKeyFile(f.pending, k2); err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, f.o.data)
	if err := seal.Rewrap(context.Background(), st, f.oldKey, k2); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// What an earlier rotation, killed while writing its key, left behind.
	leftover := filepath.Join(f.o.data, "."+seal.PendingKeyFile+".tmp1234")
	if err := os.WriteFile(leftover, []byte("half a k"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := f.o
	o.addr, o.logFormat, o.maxScopes, o.maxSecrets = "127.0.0.1:0", "text", -1, -1
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, o, &stdout, &stderr) }()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for !strings.Contains(stdout.String(), "listening on") {
		select {
		case err := <-done:
			t.Fatalf("hush serve stopped: %v\n%s", err, stderr.String())
		case <-ticker.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("hush serve: %v", err)
	}
	if !strings.Contains(stderr.String(), "interrupted master key rotation") {
		t.Errorf("no log line about the finished rotation:\n%s", stderr.String())
	}
	if !bytes.Equal(f.keyFile(t), k2) {
		t.Fatal("master.key does not hold the re-wrapping key")
	}
	noFile(t, f.pending)
	noFile(t, leftover)
	f.opensWith(t, k2, true)
}
