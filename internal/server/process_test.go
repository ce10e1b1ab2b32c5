package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// buildHush compiles the hush binary into a temporary directory.
func buildHush(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the hush binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hush")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/hush-secrets/hush/cmd/hush")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hush: %v\n%s", err, out)
	}
	return bin
}

// hushProc is a running "hush serve".
type hushProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
}

// wait waits for the process to exit and returns its status.
func (p *hushProc) wait() error { <-p.done; return p.err }

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var listeningRE = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

// startServe runs "hush serve" on a free port with env (HUSH_* and
// DATABRICKS_* from the test's environment are dropped) and waits for it to
// print its URL.
func startServe(t *testing.T, bin string, env []string, args ...string) *hushProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HUSH_") && !strings.HasPrefix(e, "DATABRICKS_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &hushProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	select {
	case p.url = <-lines:
	case <-p.done:
		t.Fatalf("hush serve exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("hush serve did not print its URL\n%s", p.stderr)
	}
	return p
}

func TestServeProcessDurability(t *testing.T) {
	bin := buildHush(t)
	data := t.TempDir()
	const tok = "dapi00112233445566778899aabbccddeeff"
	const value = "plaintext-value-that-must-not-be-on-disk-7f3a"
	env := []string{"HUSH_BOOTSTRAP_TOKEN=" + tok}

	p := startServe(t, bin, env, "--data", data)
	// stderr is a pipe (a log stream) and the token was supplied: it is
	// never printed; the log says where the file is. (stderr is copied by
	// its own goroutine: wait for the line, a hang guard, not a timing
	// assertion.)
	for giveUp := time.Now().Add(30 * time.Second); time.Now().Before(giveUp) && !strings.Contains(p.stderr.String(), "bootstrap-token"); {
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(p.stderr.String(), tok) || !strings.Contains(p.stderr.String(), filepath.Join(data, "bootstrap-token")) {
		t.Fatalf("the bootstrap token was printed, or its file not named, on first start:\n%s", strings.ReplaceAll(p.stderr.String(), tok, "<token>"))
	}
	b, err := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	if err != nil || strings.TrimSpace(string(b)) != tok {
		t.Fatalf("bootstrap-token file: %q %v", b, err)
	}
	for _, f := range []string{"bootstrap-token", "master.key", "hush.db"} {
		if fi, err := os.Stat(filepath.Join(data, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	must(t, call(t, p.url, "POST", pCreate, tok, map[string]any{"scope": "d"}))
	must(t, call(t, p.url, "POST", pPut, tok, map[string]any{"scope": "d", "key": "k", "string_value": value}))

	// SIGKILL right after the acknowledged put: nothing acknowledged is lost.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.wait()
	// secrets[0] is the value, secrets[1] the token.
	if !redacttest.AssertNoSecretInFiles(t, []string{filepath.Join(data, "hush.db")}, []byte(value), []byte(tok)) {
		t.FailNow()
	}

	p = startServe(t, bin, env, "--data", data)
	if !redacttest.AssertNoSecret(t, []byte(p.stderr.String()), []byte(tok)) {
		t.Fatalf("the bootstrap token was printed again on restart")
	}
	r := must(t, call(t, p.url, "GET", pGet, tok, nil, "scope", "d", "key", "k"))
	if r.body["value"] != base64.StdEncoding.EncodeToString([]byte(value)) {
		t.Fatalf("after SIGKILL and restart: %s", r.raw)
	}
	// SIGTERM: graceful shutdown, exit status 0.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
	}
	if !redacttest.AssertNoSecret(t, []byte(p.stderr.String()), []byte(value)) {
		t.Fatal("the value appears in the server log")
	}

	// rotate-master-key: the new key opens the old values; the old key no longer does.
	newKey, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(keyFile, []byte(seal.EncodeMasterKey(newKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	oldKey, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "serve", "rotate-master-key", "--data", data, "--new-key-file", keyFile).CombinedOutput()
	if !redacttest.AssertNoSecret(t, out, newKey, []byte(seal.EncodeMasterKey(newKey))) {
		t.Fatal("rotate-master-key printed the key") // before its output is printed below
	}
	if err != nil {
		t.Fatalf("rotate-master-key: %v\n%s", err, out)
	}
	p = startServe(t, bin, env, "--data", data)
	r = must(t, call(t, p.url, "GET", pGet, tok, nil, "scope", "d", "key", "k"))
	if r.body["value"] != base64.StdEncoding.EncodeToString([]byte(value)) {
		t.Fatalf("after rotation: %s", r.raw)
	}
	_ = p.cmd.Process.Kill()
	_ = p.wait()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "HUSH_MASTER_KEY="+strings.TrimSpace(string(oldKey)))
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "master key") {
		t.Fatalf("serve with the old key after rotation: %v\n%s", err, out)
	}
}

// TestServeProcessPostgres: the same durability promise on PostgreSQL, and
// no row of any table holds the value's plaintext (as text or as hex).
func TestServeProcessPostgres(t *testing.T) {
	dsn := storetest.PostgresSchema(t)
	bin := buildHush(t)
	const tok = "dapiffeeddccbbaa99887766554433221100"
	const value = "pg-plaintext-value-that-must-not-be-stored-91c2"
	env := []string{"HUSH_BOOTSTRAP_TOKEN=" + tok, "HUSH_STORE=" + dsn, "HUSH_MASTER_KEY=" + strings.Repeat("ab", 32)}
	data := t.TempDir()
	p := startServe(t, bin, env, "--data", data)
	must(t, call(t, p.url, "POST", pCreate, tok, map[string]any{"scope": "d"}))
	must(t, call(t, p.url, "POST", pPut, tok, map[string]any{"scope": "d", "key": "k", "string_value": value}))
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.wait()
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Fatal("a key file was written although HUSH_MASTER_KEY is set")
	}

	p = startServe(t, bin, env, "--data", data)
	r := must(t, call(t, p.url, "GET", pGet, tok, nil, "scope", "d", "key", "k"))
	if r.body["value"] != base64.StdEncoding.EncodeToString([]byte(value)) {
		t.Fatalf("after SIGKILL and restart: %s", r.raw)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	var all strings.Builder
	for _, table := range tables {
		var dump string
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(x::text, E'\n'), '') FROM `+pgx.Identifier{table}.Sanitize()+` x`).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		// secrets[0] is the value, secrets[1] the token.
		if !redacttest.AssertNoSecretIn(t, map[string][]byte{"table " + table: []byte(dump)}, []byte(value), []byte(tok)) {
			t.FailNow() // the dump is printed below
		}
		all.WriteString(dump)
	}
	if !strings.Contains(all.String(), "bootstrap token") || !strings.Contains(all.String(), "secrets.put") {
		t.Fatalf("the dump does not show the stored rows, so it proves nothing:\n%.500s", all.String())
	}
}

// TestServeProcessTLS: with --tls-cert/--tls-key, hush serve answers HTTPS
// only, and the bootstrap token works over it.
func TestServeProcessTLS(t *testing.T) {
	bin := buildHush(t)
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const tok = "dapi0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	p := startServe(t, bin, []string{"HUSH_BOOTSTRAP_TOKEN=" + tok}, "--data", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile, "--log-format", "json")
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("URL %s is not https", p.url)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", p.url+pScopes, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("HTTPS request: %d", res.StatusCode)
	}
	if res, err := http.Get(strings.Replace(p.url, "https://", "http://", 1) + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP answered on a TLS listener")
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(p.stderr.String(), `"route":"/api/2.0/secrets/scopes/list"`) {
		t.Fatalf("no JSON request log line:\n%s", p.stderr)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
