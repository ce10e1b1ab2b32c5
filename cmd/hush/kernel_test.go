package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readKernelJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func argvOf(doc map[string]any) []string {
	var out []string
	for _, a := range doc["argv"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

// TestKernelInstallWritesWrappedSpec: the default kernelspec runs ipykernel
// under "hush kernel run" of this binary, with the shim on PYTHONPATH.
func TestKernelInstallWritesWrappedSpec(t *testing.T) {
	cliEnv(t)
	data := t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := hush(t, nil, "kernel", "install", "--python", "/usr/bin/python3").ok(t)
	dir := filepath.Join(data, "kernels", "hush-python3")
	if !strings.Contains(r.stdout, "Installed kernelspec hush-python3 in "+dir) {
		t.Fatalf("stdout %q", r.stdout)
	}
	doc := readKernelJSON(t, dir)
	want := []string{exe, "kernel", "run", "--connection-file", "{connection_file}", "--",
		"/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"}
	argv := argvOf(doc)
	if len(argv) < len(want) || strings.Join(argv[:len(want)], " ") != strings.Join(want, " ") {
		t.Fatalf("argv %q, want it to start with %q", argv, want)
	}
	env, _ := doc["env"].(map[string]any)
	if env["PYTHONPATH"] != dir || doc["display_name"] != "Python 3 (hush)" || doc["language"] != "python" {
		t.Fatalf("env %v, display %v", env, doc["display_name"])
	}
	if _, err := os.Stat(filepath.Join(dir, "hush_dbutils.py")); err != nil {
		t.Fatalf("shim not installed: %v", err)
	}
	// --hush names another binary.
	hush(t, nil, "kernel", "install", "--python", "/usr/bin/python3", "--hush", "/bin/sh", "--name", "other").ok(t)
	if argv := argvOf(readKernelJSON(t, filepath.Join(data, "kernels", "other"))); argv[0] != "/bin/sh" {
		t.Fatalf("--hush: argv[0] %q", argv[0])
	}
	hush(t, nil, "kernel", "install", "--hush", filepath.Join(data, "nope")).fails(t, exitUsage, "not an executable file")
}

// TestKernelInstallWrapAndList wraps an installed kernelspec, lists it as
// wrapped, and refuses to wrap it again.
func TestKernelInstallWrapAndList(t *testing.T) {
	cliEnv(t)
	data, jp := t.TempDir(), t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	t.Setenv("JUPYTER_PATH", jp)
	src := filepath.Join(jp, "kernels", "rk")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := `{"argv": ["R", "--args", "{connection_file}"], "display_name": "R", "language": "R", "interrupt_mode": "message"}`
	if err := os.WriteFile(filepath.Join(src, "kernel.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "logo-64x64.png"), []byte("png"), 0o644); err != nil {
		t.Fatal(err)
	}
	hush(t, nil, "kernel", "install", "--wrap", "rk", "--hush", "/bin/sh").ok(t)
	dir := filepath.Join(data, "kernels", "hush-rk")
	doc := readKernelJSON(t, dir)
	if got := strings.Join(argvOf(doc), " "); got != "/bin/sh kernel run --connection-file {connection_file} -- R --args {connection_file}" {
		t.Fatalf("argv %q", got)
	}
	if doc["display_name"] != "R (hush)" || doc["interrupt_mode"] != "message" || doc["language"] != "R" {
		t.Fatalf("display %v, interrupt_mode %v, language %v", doc["display_name"], doc["interrupt_mode"], doc["language"])
	}
	if _, err := os.Stat(filepath.Join(dir, "logo-64x64.png")); err != nil {
		t.Fatalf("logo not copied: %v", err)
	}

	list := hush(t, nil, "kernel", "list").ok(t).stdout
	var hushLine, rkLine string
	for _, l := range strings.Split(list, "\n") {
		switch {
		case strings.HasPrefix(l, "hush-rk "):
			hushLine = l
		case strings.HasPrefix(l, "rk "):
			rkLine = l
		}
	}
	if !strings.Contains(hushLine, "wraps rk") || !strings.Contains(hushLine, dir) || !strings.Contains(rkLine, " no ") {
		t.Fatalf("kernel list:\n%s", list)
	}
	var js map[string]struct {
		ResourceDir string `json:"resource_dir"`
		Hush        bool   `json:"hush"`
		Wraps       string `json:"wraps"`
	}
	if err := json.Unmarshal([]byte(hush(t, nil, "kernel", "list", "--json").ok(t).stdout), &js); err != nil {
		t.Fatal(err)
	}
	if e := js["hush-rk"]; !e.Hush || e.Wraps != "rk" || e.ResourceDir != dir || js["rk"].Hush {
		t.Fatalf("kernel list --json: %+v", js)
	}

	hush(t, nil, "kernel", "install", "--wrap", "rk", "--name", "rk2", "--hush", "/bin/sh", "--display-name", "R two", "--bridge-file", "/run/b.json").ok(t)
	doc = readKernelJSON(t, filepath.Join(data, "kernels", "rk2"))
	if env, _ := doc["env"].(map[string]any); doc["display_name"] != "R two" || env["HUSH_BRIDGE_FILE"] != "/run/b.json" {
		t.Fatalf("--display-name/--bridge-file with --wrap: %v, env %v", doc["display_name"], doc["env"])
	}
	hush(t, nil, "kernel", "install", "--wrap", "hush-rk", "--hush", "/bin/sh").fails(t, exitError, "already runs under hush")
	hush(t, nil, "kernel", "install", "--wrap", "missing", "--hush", "/bin/sh").fails(t, exitError, `no kernelspec named "missing"`)
	hush(t, nil, "kernel", "install", "--wrap", "rk", "--python", "/usr/bin/python3").fails(t, exitUsage, "--python applies")
}

func TestKernelRunUsage(t *testing.T) {
	cliEnv(t)
	hush(t, nil, "kernel", "run", "--", "python3").fails(t, exitUsage, "--connection-file is required")
	hush(t, nil, "kernel", "run", "--connection-file", "x.json").fails(t, exitUsage, "requires at least 1 arg")
	hush(t, nil, "kernel", "run", "--connection-file", filepath.Join(t.TempDir(), "none.json"), "--", "true").fails(t, exitError, "read connection file")
}

// TestKernelBridgeUpstream: the wrapper's bridge forwards to the hush
// profile; without one, to the bridge of a running hush proxy named by
// --bridge-file or HUSH_BRIDGE_FILE; without either there is no bridge, and
// the log says why.
func TestKernelBridgeUpstream(t *testing.T) {
	cliEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no default bridge file
	t.Setenv("HUSH_BRIDGE_FILE", "")
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	red := newRedactor(0, nil)

	if b := kernelBridge("", "", red, logf); b != nil || !strings.Contains(strings.Join(logs, "\n"), "no running hush proxy") {
		t.Fatalf("no profile, no proxy: bridge %v, log %q", b != nil, logs)
	}
	bf := filepath.Join(t.TempDir(), "bridge.json")
	if err := os.WriteFile(bf, []byte(`{"host": "http://127.0.0.1:9", "token": "hushb-proxy-token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	logs = nil
	if b := kernelBridge("", bf, red, logf); b == nil || b.Upstream() != "http://127.0.0.1:9" {
		t.Fatalf("--bridge-file: %v", logs)
	}
	t.Setenv("HUSH_BRIDGE_FILE", bf)
	if b := kernelBridge("", "", red, logf); b == nil || b.Upstream() != "http://127.0.0.1:9" {
		t.Fatalf("HUSH_BRIDGE_FILE: %v", logs)
	}
	logs = nil
	if b := kernelBridge("", filepath.Join(t.TempDir(), "gone.json"), red, logf); b != nil || !strings.Contains(strings.Join(logs, "\n"), "read the bridge file") {
		t.Fatalf("missing --bridge-file: bridge %v, log %q", b != nil, logs)
	}
	t.Setenv("DATABRICKS_HOST", "http://127.0.0.1:8")
	t.Setenv("DATABRICKS_TOKEN", "dapi-profile-token")
	if b := kernelBridge("", bf, red, logf); b == nil || b.Upstream() != "http://127.0.0.1:8" {
		t.Fatal("a profile must win over the proxy's bridge file")
	}
	for _, l := range logs {
		if strings.Contains(l, "hushb-proxy-token") || strings.Contains(l, "dapi-profile-token") {
			t.Fatal("a token reached the log")
		}
	}
}
