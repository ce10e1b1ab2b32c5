package pyshim

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// TestShimPrintsNonUTF8ValueRedacted runs the shim in a real python3
// against a real bridge on 127.0.0.1 in front of a real hush server, and
// prints, through a redact.Writer, every form notebook code gets of a
// value that is not valid UTF-8: the str of get() (invalid bytes decoded as
// U+FFFD), its repr and JSON, and the bytes of getBytes(). Nothing of the
// value may show, not even the valid UTF-8 stretches around the invalid
// bytes.
func TestShimPrintsNonUTF8ValueRedacted(t *testing.T) {
	py := python(t)
	srv := servertest.Start(t)
	api := dbapi.NewClient(dbapi.Config{Host: srv.URL, Token: srv.AdminToken})
	ctx := context.Background()
	raw := []byte("first-part-\xff-second-part\xe2\x82-end")
	if err := api.CreateScope(ctx, dbapi.CreateScopeRequest{Scope: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := api.PutSecretBytes(ctx, "s", "bin", raw); err != nil {
		t.Fatal(err)
	}

	red := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	b, err := bridge.New(bridge.Options{Upstream: srv.URL, Token: srv.AdminToken, Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	bsrv, err := b.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bsrv.Close(cctx)
	})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModuleName+".py"), Source(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys
sys.path.insert(0, sys.argv[1])
from hush_dbutils import dbutils
v = dbutils.secrets.get("s", "bin")
sys.stderr.write("decoded %s\n" % (v == "first-part-\ufffd-second-part\ufffd-end"))
print(v)
print(repr(v))
print(json.dumps(v))
print(json.dumps(v, ensure_ascii=False))
print({"v": v})
print(dbutils.secrets.getBytes("s", "bin"))
print("done")
`
	var out, errOut bytes.Buffer
	w := red.NewWriter(&out)
	cmd := exec.Command(py, "-c", script, dir)
	// PYTHONUTF8=1: print writes UTF-8 whatever the test's locale is, as a
	// Jupyter kernel's streams do.
	cmd.Env = append(os.Environ(), "DATABRICKS_HOST="+bsrv.URL, "DATABRICKS_TOKEN="+b.Token(), "HUSH_BRIDGE_FILE=", "PYTHONUTF8=1")
	cmd.Stdout, cmd.Stderr = w, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v (stderr %d bytes)", err, errOut.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "decoded True") {
		t.Fatal("get() did not return the replace-decoded str this test expects")
	}
	got := out.Bytes()
	// The value in each form the script printed, and the valid stretches
	// of it, any of which showing would be a leak.
	redacttest.AssertNoSecret(t, got,
		raw,
		[]byte("first-part-\ufffd-second-part\ufffd-end"),
		[]byte(`first-part-\xff-second-part\xe2\x82-end`),
		[]byte("first-part-"),
		[]byte("-second-part"),
	)
	if n := bytes.Count(got, []byte(redact.Token)); n < 6 || !bytes.HasSuffix(got, []byte("done\n")) {
		t.Fatalf("want 6 redacted prints and the end marker; got %d tokens in %d bytes", n, len(got))
	}
}
