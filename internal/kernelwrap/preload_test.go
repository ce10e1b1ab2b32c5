package kernelwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// TestRawOutputWaitsForPreload: what the inner kernel writes to its own
// stdout and stderr while the preload is still running is held until the
// preloaded secrets are registered (kernel messages already were), so a
// preloaded value the kernel prints at once is redacted. Before, the raw
// output went out as soon as it came.
func TestRawOutputWaitsForPreload(t *testing.T) {
	srv := servertest.Start(t)
	secret := "kw-slow-preload-value-7e4d"
	call := func(path string, body any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	call(dbapi.PathScopesCreate, dbapi.CreateScopeRequest{Scope: "slow"})
	call(dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "slow", Key: "k", StringValue: &secret})

	// The upstream answers only after the kernel has printed.
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(700 * time.Millisecond)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)

	red := newRedactor(t)
	b, err := bridge.New(bridge.Options{Upstream: slow.URL, Token: srv.AdminToken, Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	code, err := Run(context.Background(), Options{
		ConnectionFile: frontendFile(t),
		Argv:           []string{"sh", "-c", `echo "out $1"; echo "err $1" >&2`, "sh", secret},
		Env:            []string{"PATH=" + os.Getenv("PATH")},
		Redactor:       red,
		Bridge:         b,
		Preload:        true,
		Stdout:         &out,
		Stderr:         &errOut,
	})
	if err != nil || code != 0 {
		t.Fatalf("run: code %d, %v", code, err)
	}
	redacttest.AssertNoSecret(t, []byte(out.String()+errOut.String()), []byte(secret))
	if out.String() != "out [REDACTED]\n" || !bytes.Contains([]byte(errOut.String()), []byte("err [REDACTED]\n")) {
		t.Fatalf("the kernel's output was not kept (stdout %d bytes, stderr %d bytes)", len(out.String()), len(errOut.String()))
	}
}

// TestOutputGate: held output is written on release, replaced by a notice
// when withheld, and bounded while held.
func TestOutputGate(t *testing.T) {
	var out bytes.Buffer
	g := &outputGate{w: &out}
	g.Write([]byte("early "))
	if out.Len() != 0 {
		t.Fatal("output went out before the release")
	}
	g.release()
	g.Write([]byte("late"))
	if out.String() != "early late" {
		t.Fatalf("released output: %q", out.String())
	}
	out.Reset()
	g = &outputGate{w: &out}
	g.Write([]byte("kw-held-value"))
	g.withhold()
	g.release()
	if bytes.Contains(out.Bytes(), []byte("kw-held-value")) || !bytes.Contains(out.Bytes(), []byte("13 bytes of kernel output withheld")) {
		t.Fatalf("withheld output: %q", out.String())
	}
	out.Reset()
	g = &outputGate{w: &out}
	g.Write(make([]byte, maxHeldOutput-1))
	g.Write([]byte("abc"))
	if g.held.Len() != maxHeldOutput || g.dropped != 2 {
		t.Fatalf("held %d, dropped %d", g.held.Len(), g.dropped)
	}
	g.release()
	if !bytes.HasSuffix(out.Bytes(), []byte("[hush: 2 bytes of kernel output dropped while secrets were loading]\n")) {
		t.Fatal("no notice of the dropped output")
	}
}
