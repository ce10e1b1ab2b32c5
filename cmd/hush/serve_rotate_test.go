package main

import (
	"bytes"
	"context"
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
	oldKey  []byte
	sealed  []byte
}

func newRotateFixture(t *testing.T) rotateFixture {
	t.Helper()
	t.Setenv(seal.MasterKeyEnv, "")
	t.Setenv(envNewMasterKey, "")
	dir := t.TempDir()
	key, _, _, err := seal.LoadMasterKey("", dir) // creates master.key, as hush serve does
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
	return rotateFixture{o: serveOptions{data: dir}, keyPath: filepath.Join(dir, seal.MasterKeyFile), oldKey: key, sealed: sealed}
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
	k, _, err := seal.ReadMasterKey("", f.o.data)
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
	noFile(t, f.keyPath+pendingKeySuffix)
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
	t.Setenv(seal.MasterKeyEnv, "")
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
	noFile(t, f.keyPath+pendingKeySuffix)
	if !bytes.Equal(f.keyFile(t), other) {
		t.Fatal("master.key changed")
	}
	f.opensWith(t, f.oldKey, true)
}

// TestRotateMasterKeyCrashAfterRewrap: the state a crash leaves between the
// re-wrap and the rename (master.key old, master.key.new new, store on the
// new key) is finished by recoverPendingKey, which hush serve runs, and a
// second rotation from that state works.
func TestRotateMasterKeyCrashAfterRewrap(t *testing.T) {
	f := newRotateFixture(t)
	k2 := newKey(t)
	crashAfterRewrap := func() {
		t.Helper()
		if err := seal.WriteMasterKeyFile(f.keyPath+pendingKeySuffix, k2); err != nil {
			t.Fatal(err)
		}
		st := openBolt(t, f.o.data)
		defer st.Close()
		if err := seal.Rewrap(context.Background(), st, f.oldKey, k2); err != nil {
			t.Fatal(err)
		}
	}
	crashAfterRewrap()
	f.opensWith(t, f.oldKey, false) // what master.key holds: the unsafe state

	st := openBolt(t, f.o.data)
	promoted, err := recoverPendingKey(context.Background(), st, f.o.data)
	st.Close()
	if err != nil || !promoted {
		t.Fatalf("recoverPendingKey = %v, %v; want promoted", promoted, err)
	}
	if !bytes.Equal(f.keyFile(t), k2) {
		t.Fatal("master.key does not hold the re-wrapping key")
	}
	noFile(t, f.keyPath+pendingKeySuffix)
	f.opensWith(t, k2, true)

	// The same state, settled by running the rotation again (to k3).
	f2 := newRotateFixture(t)
	f = f2
	crashAfterRewrap()
	k3 := newKey(t)
	if err := runRotate(context.Background(), f.o, writeKey(t, k3), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.keyFile(t), k3) {
		t.Fatal("master.key does not hold k3")
	}
	noFile(t, f.keyPath+pendingKeySuffix)
	f.opensWith(t, k3, true)
}

// TestRotateMasterKeyCrashBeforeRewrap: a crash after the new key file was
// written but before the re-wrap leaves a stale master.key.new; recovery
// removes it and keeps the old key.
func TestRotateMasterKeyCrashBeforeRewrap(t *testing.T) {
	f := newRotateFixture(t)
	if err := seal.WriteMasterKeyFile(f.keyPath+pendingKeySuffix, newKey(t)); err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, f.o.data)
	promoted, err := recoverPendingKey(context.Background(), st, f.o.data)
	st.Close()
	if err != nil || promoted {
		t.Fatalf("recoverPendingKey = %v, %v; want nothing promoted", promoted, err)
	}
	noFile(t, f.keyPath+pendingKeySuffix)
	if !bytes.Equal(f.keyFile(t), f.oldKey) {
		t.Fatal("master.key changed")
	}
	f.opensWith(t, f.oldKey, true)
}

// TestRotateMasterKeyNeitherKeyOpens: recovery refuses to guess when
// neither file fits, and leaves both in place.
func TestRotateMasterKeyNeitherKeyOpens(t *testing.T) {
	f := newRotateFixture(t)
	if err := seal.WriteMasterKeyFile(f.keyPath, newKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteMasterKeyFile(f.keyPath+pendingKeySuffix, newKey(t)); err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, f.o.data)
	defer st.Close()
	_, err := recoverPendingKey(context.Background(), st, f.o.data)
	if !errors.Is(err, seal.ErrWrongMasterKey) {
		t.Fatalf("err = %v, want ErrWrongMasterKey", err)
	}
	if _, err := os.Stat(f.keyPath + pendingKeySuffix); err != nil {
		t.Fatalf("pending key file removed: %v", err)
	}
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
	t.Setenv(envBootstrapToken, "")
	k2 := newKey(t)
	if err := seal.WriteMasterKeyFile(f.keyPath+pendingKeySuffix, k2); err != nil {
		t.Fatal(err)
	}
	st := openBolt(t, f.o.data)
	if err := seal.Rewrap(context.Background(), st, f.oldKey, k2); err != nil {
		t.Fatal(err)
	}
	st.Close()

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
	noFile(t, f.keyPath+pendingKeySuffix)
	f.opensWith(t, k2, true)
}
