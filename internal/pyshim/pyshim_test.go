package pyshim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBridge answers the three read endpoints like hush's bridge does,
// requiring the bearer token.
func fakeBridge(t *testing.T, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":"UNAUTHENTICATED","message":"bad token"}`))
			return
		}
		q := r.URL.Query()
		switch r.URL.Path {
		case "/api/2.0/secrets/scopes/list":
			w.Write([]byte(`{"scopes":[{"name":"prod","backend_type":"DATABRICKS"},{"name":"dev","backend_type":"DATABRICKS"}]}`))
		case "/api/2.0/secrets/list":
			if q.Get("scope") != "prod" {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Scope ` + q.Get("scope") + ` does not exist!"}`))
				return
			}
			w.Write([]byte(`{"secrets":[{"key":"db","last_updated_timestamp":1},{"key":"bin","last_updated_timestamp":2}]}`))
		case "/api/2.0/secrets/get":
			var v []byte
			switch {
			case q.Get("scope") == "prod" && q.Get("key") == "db":
				v = []byte("hello-secret-ü")
			case q.Get("scope") == "prod" && q.Get("key") == "bin":
				v = []byte{0, 1, 0xff}
			default:
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Secret does not exist with scope: ` + q.Get("scope") + ` and key: ` + q.Get("key") + `"}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"key": q.Get("key"), "value": base64.StdEncoding.EncodeToString(v)})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func python(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
		t.Fatal("no python3 found (HUSH_REQUIRE_E2E=1)")
	}
	t.Skip("SKIP: no python3 found; the shim is not exercised")
	return ""
}

func TestInstallWritesKernelspecAndShim(t *testing.T) {
	dir := t.TempDir()
	py := python(t)
	got, err := Install(filepath.Join(dir, "kernels"), Spec{Name: "hush-python3", Python: py, BridgeFile: "/x/bridge.json"})
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, "kernels", "hush-python3") {
		t.Fatalf("installed into %s", got)
	}
	raw, err := os.ReadFile(filepath.Join(got, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kj KernelJSON
	if err := json.Unmarshal(raw, &kj); err != nil {
		t.Fatalf("kernel.json is not JSON: %v", err)
	}
	if kj.Argv[0] != py || kj.Argv[1] != "-m" || kj.Argv[2] != "ipykernel_launcher" || kj.Argv[4] != "{connection_file}" {
		t.Fatalf("argv = %q", kj.Argv)
	}
	if kj.Language != "python" || kj.Env["HUSH_BRIDGE_FILE"] != "/x/bridge.json" {
		t.Fatalf("kernel.json = %s", raw)
	}
	if _, ok := kj.Env["DATABRICKS_TOKEN"]; ok {
		t.Fatal("a bridge-file kernelspec must not carry a token")
	}
	shim, err := os.ReadFile(filepath.Join(got, ModuleName+".py"))
	if err != nil || string(shim) != string(Source()) {
		t.Fatalf("shim not installed verbatim: %v", err)
	}
	// Reinstalling replaces, and leaves no temporary files behind.
	if _, err := Install(filepath.Join(dir, "kernels"), Spec{Name: "hush-python3", Python: py, Host: "http://127.0.0.1:1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(got)
	if len(ents) != 2 {
		t.Fatalf("kernelspec dir holds %d entries, want 2", len(ents))
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	for name, spec := range map[string]Spec{
		"bad name":    {Name: "a/b", Python: "/usr/bin/python3", BridgeFile: "f"},
		"relative py": {Name: "k", Python: "python3", BridgeFile: "f"},
		"no bridge":   {Name: "k", Python: "/usr/bin/python3"},
		"empty name":  {Name: "", Python: "/usr/bin/python3", BridgeFile: "f"},
	} {
		if _, err := Build(spec, "/tmp/k"); err == nil {
			t.Errorf("%s: Build accepted %+v", name, spec)
		}
	}
	if _, err := Build(Spec{Name: "k", Python: "/usr/bin/python3", BridgeFile: "f"}, "/tmp/it's"); err == nil {
		t.Error("a quote in the directory must be refused (it is spliced into Python source)")
	}
}

// TestShimAgainstBridge runs the kernelspec's startup line with a real
// Python and exercises every dbutils.secrets call against a bridge.
func TestShimAgainstBridge(t *testing.T) {
	py := python(t)
	const token = "hushb-test-token"
	srv := fakeBridge(t, token)
	dir := t.TempDir()
	bridgeFile := filepath.Join(dir, "state", "bridge.json")
	if err := WriteBridgeFile(bridgeFile, BridgeInfo{Host: srv.URL, Token: token}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bridgeFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bridge file mode: %v %v", fi.Mode(), err)
	}
	kdir, err := Install(filepath.Join(dir, "kernels"), Spec{Name: "k", Python: py, BridgeFile: bridgeFile})
	if err != nil {
		t.Fatal(err)
	}
	kj, err := Build(Spec{Name: "k", Python: py, BridgeFile: bridgeFile}, kdir)
	if err != nil {
		t.Fatal(err)
	}
	startup := strings.TrimPrefix(kj.Argv[5], "--IPKernelApp.exec_lines=")
	script := startup + `
import os, sys
s = dbutils.secrets
print("get", s.get(scope="prod", key="db") == "hello-secret-\u00fc")
print("bytes", s.getBytes("prod", "bin") == b"\x00\x01\xff")
print("list", s.list("prod"))
print("keys", [m.key for m in s.list("prod")])
print("scopes", [x.name for x in s.listScopes()])
print("env", os.environ["DATABRICKS_HOST"] == "` + srv.URL + `", "DATABRICKS_CONFIG_PROFILE" in os.environ)
print("path", any("` + kdir + `" == p for p in sys.path))
try:
    s.get("prod", "nope")
except Exception as e:
    print("err", type(e).__name__, e, e.error_code)
try:
    s.list("dev")
except Exception as e:
    print("err2", e)
s.help()
dbutils.help()
`
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(os.Environ(), "HUSH_BRIDGE_FILE="+bridgeFile, "DATABRICKS_HOST=https://real.example", "DATABRICKS_CONFIG_PROFILE=prod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, want := range []string{
		"get True\n",
		"bytes True\n",
		"list [SecretMetadata(key='db'), SecretMetadata(key='bin')]\n",
		"keys ['db', 'bin']\n",
		"scopes ['prod', 'dev']\n",
		"env True False\n",
		"path False\n",
		"err SecretsError Secret does not exist with scope: prod and key: nope RESOURCE_DOES_NOT_EXIST\n",
		"err2 Scope dev does not exist!\n",
		"getBytes(scope: String, key: String): byte[]",
		"secrets: SecretUtils",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestShimWrongTokenAndMissingBridge(t *testing.T) {
	py := python(t)
	srv := fakeBridge(t, "right")
	dir := t.TempDir()
	shim := filepath.Join(dir, ModuleName+".py")
	if err := os.WriteFile(shim, Source(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys; sys.path.insert(0, sys.argv[1])
from hush_dbutils import dbutils
try:
    dbutils.secrets.get("prod", "db")
except Exception as e:
    print("err", e)
`
	cmd := exec.Command(py, "-c", script, dir)
	cmd.Env = append(os.Environ(), "DATABRICKS_HOST="+srv.URL, "DATABRICKS_TOKEN=wrong", "HUSH_BRIDGE_FILE=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "err bad token") {
		t.Fatalf("wrong token: %v\n%s", err, out)
	}
	cmd = exec.Command(py, "-c", script, dir)
	cmd.Env = append(os.Environ(), "HUSH_BRIDGE_FILE="+filepath.Join(dir, "missing.json"))
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cannot read the bridge file") {
		t.Fatalf("missing bridge file: %v\n%s", err, out)
	}
}
