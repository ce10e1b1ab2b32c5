package seal_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/atomicfile"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

// keyFixture is a data directory with a bolt store whose data key is
// wrapped by the key in master.key (created by Load, as hush serve does),
// and one sealed value.
type keyFixture struct {
	cfg    seal.MasterKeyConfig
	oldKey []byte
	sealed []byte
}

func newKeyFixture(t *testing.T) keyFixture {
	t.Helper()
	cfg := seal.MasterKeyConfig{ValueName: "HUSH_MASTER_KEY", Dir: t.TempDir()}
	key, _, _, err := cfg.Load()
	if err != nil {
		t.Fatal(err)
	}
	st := openDataBolt(t, cfg.Dir)
	defer st.Close()
	sl, err := seal.Open(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sl.Seal("s", "k", []byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	return keyFixture{cfg: cfg, oldKey: key, sealed: sealed}
}

func openDataBolt(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(dir, bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newMasterKey(t *testing.T) []byte {
	t.Helper()
	k, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withStore runs fn on the fixture's store, opened for the call only (bolt
// allows one opener at a time).
func (f keyFixture) withStore(t *testing.T, fn func(store.Store)) {
	t.Helper()
	st := openDataBolt(t, f.cfg.Dir)
	defer st.Close()
	fn(st)
}

// opensWith asserts that the store opens with key (and its sealed value
// decrypts), or not.
func (f keyFixture) opensWith(t *testing.T, key []byte, want bool) {
	t.Helper()
	f.withStore(t, func(st store.Store) {
		sl, err := seal.Open(ctx, st, key)
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
			t.Fatalf("sealed value: %v", err)
		}
	})
}

// keyFile returns the key in master.key.
func (f keyFixture) keyFile(t *testing.T) []byte {
	t.Helper()
	k, _, err := f.cfg.Read()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dataFiles asserts the data directory holds exactly names: no pending key
// file, no temporary file.
func (f keyFixture) dataFiles(t *testing.T, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(f.cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("data directory holds %q, want %q", got, names)
	}
}

// rotate runs Rotate on the fixture's store.
func (f keyFixture) rotate(t *testing.T, newKey []byte) (rot seal.Rotation, err error) {
	t.Helper()
	f.withStore(t, func(st store.Store) { rot, err = f.cfg.Rotate(ctx, st, newKey) })
	return rot, err
}

// recover runs Recover on the fixture's store.
func (f keyFixture) recover(t *testing.T) (promoted bool, err error) {
	t.Helper()
	f.withStore(t, func(st store.Store) { promoted, err = f.cfg.Recover(ctx, st) })
	return promoted, err
}

// crashAfterRewrap leaves the state a crash between the re-wrap and the
// rename leaves: master.key old, master.key.new holding k, store on k.
func (f keyFixture) crashAfterRewrap(t *testing.T, k []byte) {
	t.Helper()
	if err := seal.WriteMasterKeyFile(f.cfg.PendingKeyPath(), k); err != nil {
		t.Fatal(err)
	}
	f.withStore(t, func(st store.Store) {
		if err := seal.Rewrap(ctx, st, f.oldKey, k); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRotateKeyFile(t *testing.T) {
	f := newKeyFixture(t)
	k2 := newMasterKey(t)
	if err := f.cfg.CheckRotation(); err != nil {
		t.Fatal(err)
	}
	rot, err := f.rotate(t, k2)
	if err != nil {
		t.Fatal(err)
	}
	if rot.KeyFile != f.cfg.KeyPath() || !strings.Contains(rot.OldSource, f.cfg.KeyPath()) {
		t.Fatalf("Rotation = %+v", rot)
	}
	if !bytes.Equal(f.keyFile(t), k2) {
		t.Fatal("master.key does not hold the new key")
	}
	if fi, err := os.Stat(f.cfg.KeyPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key after rotation: %v, %v", fi.Mode(), err)
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	f.opensWith(t, k2, true)
	f.opensWith(t, f.oldKey, false)
}

// TestRotateValue: a key given as the Value is rotated in the store only;
// no key file is read or written, and the caller is told to set the value.
func TestRotateValue(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newMasterKey(t), newMasterKey(t)
	cfg := seal.MasterKeyConfig{Value: seal.EncodeMasterKey(k1), ValueName: "HUSH_MASTER_KEY", Dir: dir}
	st := openDataBolt(t, dir)
	defer st.Close()
	if _, err := seal.Open(ctx, st, k1); err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRotation(); err != nil {
		t.Fatal(err)
	}
	rot, err := cfg.Rotate(ctx, st, k2)
	if err != nil {
		t.Fatal(err)
	}
	if rot.KeyFile != "" || rot.OldSource != "HUSH_MASTER_KEY" {
		t.Fatalf("Rotation = %+v", rot)
	}
	if _, err := seal.Open(ctx, st, k2); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if _, err := seal.Open(ctx, st, k1); !errors.Is(err, seal.ErrWrongMasterKey) {
		t.Fatalf("old key after rotation: %v", err)
	}
	(keyFixture{cfg: cfg}).dataFiles(t, bolt.FileName)
}

// TestCheckRotationMissingKey: with neither a Value nor a key file,
// rotation fails clearly before anything exists, and creates nothing.
func TestCheckRotationMissingKey(t *testing.T) {
	f := keyFixture{cfg: seal.MasterKeyConfig{ValueName: "HUSH_MASTER_KEY", Dir: t.TempDir()}}
	err := f.cfg.CheckRotation()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no master key") || !strings.Contains(err.Error(), "HUSH_MASTER_KEY") {
		t.Fatalf("err = %v, want a clear missing-key error", err)
	}
	f.dataFiles(t)
	bad := seal.MasterKeyConfig{Value: "not a key", ValueName: "HUSH_MASTER_KEY", Dir: f.cfg.Dir}
	if err := bad.CheckRotation(); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("bad value: %v", err)
	}
}

// TestRotateWrongOldKey: a key file that does not open the store changes
// nothing.
func TestRotateWrongOldKey(t *testing.T) {
	f := newKeyFixture(t)
	other := newMasterKey(t)
	if err := seal.WriteMasterKeyFile(f.cfg.KeyPath(), other); err != nil {
		t.Fatal(err)
	}
	_, err := f.rotate(t, newMasterKey(t))
	if !errors.Is(err, seal.ErrWrongMasterKey) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v, want ErrWrongMasterKey, nothing changed", err)
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	if !bytes.Equal(f.keyFile(t), other) {
		t.Fatal("master.key changed")
	}
	f.opensWith(t, f.oldKey, true)
}

// TestRotateNoDataKey: a store without a data key cannot be re-wrapped;
// the pending key file written for it is removed again.
func TestRotateNoDataKey(t *testing.T) {
	dir := t.TempDir()
	cfg := seal.MasterKeyConfig{Dir: dir}
	if _, _, _, err := cfg.Load(); err != nil {
		t.Fatal(err)
	}
	f := keyFixture{cfg: cfg}
	_, err := f.rotate(t, newMasterKey(t))
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
}

func TestRotateRejectsShortKey(t *testing.T) {
	f := newKeyFixture(t)
	if _, err := f.rotate(t, make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	f.opensWith(t, f.oldKey, true)
}

// TestRecoverCrashAfterRewrap: the state a crash leaves between the
// re-wrap and the rename is finished by Recover, and a rotation started
// from that state (to k3) works too.
func TestRecoverCrashAfterRewrap(t *testing.T) {
	f := newKeyFixture(t)
	k2 := newMasterKey(t)
	f.crashAfterRewrap(t, k2)
	f.opensWith(t, f.oldKey, false) // what master.key holds: the unsafe state
	if err := f.cfg.CheckRotation(); err != nil {
		t.Fatalf("CheckRotation with a pending key: %v", err)
	}
	promoted, err := f.recover(t)
	if err != nil || !promoted {
		t.Fatalf("Recover = %v, %v; want promoted", promoted, err)
	}
	if !bytes.Equal(f.keyFile(t), k2) {
		t.Fatal("master.key does not hold the re-wrapping key")
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	f.opensWith(t, k2, true)
	if promoted, err := f.recover(t); err != nil || promoted {
		t.Fatalf("second Recover = %v, %v; want nothing to do", promoted, err)
	}

	f = newKeyFixture(t)
	f.crashAfterRewrap(t, k2)
	k3 := newMasterKey(t)
	if _, err := f.rotate(t, k3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.keyFile(t), k3) {
		t.Fatal("master.key does not hold k3")
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	f.opensWith(t, k3, true)
}

// TestRecoverCrashBeforeRewrap: a crash after the new key file was written
// but before the re-wrap leaves a stale master.key.new; Recover removes it
// and keeps the old key.
func TestRecoverCrashBeforeRewrap(t *testing.T) {
	f := newKeyFixture(t)
	if err := seal.WriteMasterKeyFile(f.cfg.PendingKeyPath(), newMasterKey(t)); err != nil {
		t.Fatal(err)
	}
	promoted, err := f.recover(t)
	if err != nil || promoted {
		t.Fatalf("Recover = %v, %v; want nothing promoted", promoted, err)
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	if !bytes.Equal(f.keyFile(t), f.oldKey) {
		t.Fatal("master.key changed")
	}
	f.opensWith(t, f.oldKey, true)
}

// TestRecoverNeitherKeyOpens: Recover refuses to guess when neither file
// fits, and leaves both in place.
func TestRecoverNeitherKeyOpens(t *testing.T) {
	f := newKeyFixture(t)
	if err := seal.WriteMasterKeyFile(f.cfg.KeyPath(), newMasterKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteMasterKeyFile(f.cfg.PendingKeyPath(), newMasterKey(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.recover(t); !errors.Is(err, seal.ErrWrongMasterKey) {
		t.Fatalf("err = %v, want ErrWrongMasterKey", err)
	}
	f.dataFiles(t, seal.MasterKeyFile, seal.PendingKeyFile, bolt.FileName)
}

// TestRecoverIgnoredWithValue: with the key given as the Value, the key
// files are not in use and Recover leaves them alone.
func TestRecoverIgnoredWithValue(t *testing.T) {
	f := newKeyFixture(t)
	f.crashAfterRewrap(t, newMasterKey(t))
	f.cfg.Value = seal.EncodeMasterKey(f.oldKey)
	if promoted, err := f.recover(t); err != nil || promoted {
		t.Fatalf("Recover = %v, %v", promoted, err)
	}
	f.dataFiles(t, seal.MasterKeyFile, seal.PendingKeyFile, bolt.FileName)
}

// killedWriterEnv makes the test binary the writer that
// TestRecoverAfterKilledWrite kills: it writes half a key to a temporary
// file of the path in the variable, says so on stdout and waits.
const killedWriterEnv = "HUSH_TEST_SEAL_KILLED_WRITER"

// TestRecoverAfterKilledWrite: rotate-master-key killed (SIGKILL) while
// writing master.key.new leaves a temporary file beside it; Recover, which
// hush serve runs at start, removes it and keeps the old key.
func TestRecoverAfterKilledWrite(t *testing.T) {
	if path := os.Getenv(killedWriterEnv); path != "" {
		halfWriteAndWait(path)
		return
	}
	f := newKeyFixture(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecoverAfterKilledWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedWriterEnv+"="+f.cfg.PendingKeyPath())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "writing\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("writer said %q (%v); stderr:\n%s", line, err, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error says so
	if n := countTemps(t, f.cfg.Dir); n != 1 {
		t.Fatalf("the killed writer left %d temporary files, want 1 (the test's premise)", n)
	}
	promoted, err := f.recover(t)
	if err != nil || promoted {
		t.Fatalf("Recover = %v, %v; want nothing promoted", promoted, err)
	}
	f.dataFiles(t, seal.MasterKeyFile, bolt.FileName)
	f.opensWith(t, f.oldKey, true)
}

// halfWriteAndWait is the writer TestRecoverAfterKilledWrite kills. It
// writes through atomicfile, as WriteMasterKeyFile does, and stops half-way.
func halfWriteAndWait(path string) {
	err := atomicfile.WriteFunc(path, 0o600, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half a ke"); err != nil {
			return err
		}
		fmt.Println("writing")
		time.Sleep(time.Hour) // until killed
		return nil
	})
	fmt.Println("not killed:", err)
	os.Exit(1)
}

func countTemps(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "."+seal.PendingKeyFile+".tmp") {
			n++
		}
	}
	return n
}
