package kernelwrap_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

const systemPython = "/usr/bin/python3"

// Secrets of the tests: one printed as a literal (only preloading can
// redact it), one fetched with dbutils.
var (
	preloadedSecret = []byte("kw-preloaded-value-4f1b9c")
	fetchedSecret   = []byte("kw-fetched-value-8d2e7a")
)

// requireJupyter skips (or fails with HUSH_REQUIRE_E2E=1) unless the
// system Python has jupyter_client and ipykernel.
func requireJupyter(t *testing.T) {
	t.Helper()
	err := exec.Command(systemPython, "-c", "import jupyter_client, ipykernel").Run()
	if err == nil {
		return
	}
	if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
		t.Fatalf("%s cannot import jupyter_client and ipykernel (HUSH_REQUIRE_E2E=1): %v", systemPython, err)
	}
	t.Skipf("SKIPPING the wrapped-kernel test: %s cannot import jupyter_client and ipykernel (apt-get install python3-jupyter-client python3-ipykernel): %v", systemPython, err)
}

// kernelEnv is a private Jupyter environment with the hush binary built
// from this tree and a secrets server holding the test secrets.
type kernelEnv struct {
	hush string
	env  []string
	data string // JUPYTER_DATA_DIR
	path string // JUPYTER_PATH (specs to wrap)
}

func newKernelEnv(t *testing.T) *kernelEnv {
	t.Helper()
	requireJupyter(t)
	tmp := t.TempDir()
	ke := &kernelEnv{hush: filepath.Join(tmp, "hush"), data: filepath.Join(tmp, "data"), path: filepath.Join(tmp, "path")}
	args := []string{"build", "-o", ke.hush}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/hush-secrets/hush/cmd/hush")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hush: %v\n%s", err, out)
	}
	srv := servertest.Start(t)
	post(t, srv, dbapi.PathScopesCreate, dbapi.CreateScopeRequest{Scope: "kw"})
	put(t, srv, "preloaded", preloadedSecret)
	put(t, srv, "fetched", fetchedSecret)
	ke.env = []string{
		"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "JUPYTER_PLATFORM_DIRS=0",
		"HOME=" + filepath.Join(tmp, "home"),
		"JUPYTER_DATA_DIR=" + ke.data,
		"JUPYTER_PATH=" + ke.path,
		"JUPYTER_RUNTIME_DIR=" + filepath.Join(tmp, "runtime"),
		"JUPYTER_CONFIG_DIR=" + filepath.Join(tmp, "config"),
		"IPYTHONDIR=" + filepath.Join(tmp, "ipython"),
		"DATABRICKS_HOST=" + srv.URL,
		"DATABRICKS_TOKEN=" + srv.AdminToken,
		"KW_PRELOADED=" + string(preloadedSecret),
		"GORACE=exitcode=66",
	}
	ke.run(t, "kernel", "install", "--python", systemPython, "--hush", ke.hush)
	return ke
}

func post(t *testing.T, srv *servertest.Server, path string, body any) {
	t.Helper()
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

func put(t *testing.T, srv *servertest.Server, key string, value []byte) {
	t.Helper()
	v := string(value)
	post(t, srv, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: "kw", Key: key, StringValue: &v})
}

// run runs the hush binary and returns its stdout.
func (ke *kernelEnv) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(ke.hush, args...)
	cmd.Env = ke.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hush %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// result is what drive.py printed: every message and the facts.
type result struct {
	raw    []byte // every line, for the leak check
	stderr []byte // the driver's and the kernels' stderr (the wrapper's log)
	msgs   int
	facts  []map[string]any
}

// fact returns the first fact that has key.
func (r result) fact(t *testing.T, key string) map[string]any {
	t.Helper()
	for _, f := range r.facts {
		if _, ok := f[key]; ok {
			return f
		}
	}
	t.Fatalf("the driver reported no %q (facts: %d)", key, len(r.facts))
	return nil
}

// drive runs testdata/drive.py SCENARIO against kernelspec name. Output of
// the driver is never printed: it could hold a secret if the test fails.
func (ke *kernelEnv) drive(t *testing.T, name, scenario string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, filepath.Join("testdata", "drive.py"), name, scenario)
	cmd.Env = ke.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res result
	res.raw = append(out, stderr.Bytes()...)
	res.stderr = stderr.Bytes()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line["event"] {
		case "msg":
			res.msgs++
		case "fact":
			res.facts = append(res.facts, line)
		}
	}
	redacttest.AssertNoSecret(t, res.raw, preloadedSecret, fetchedSecret)
	if bytes.Contains(stderr.Bytes(), []byte("WARNING: DATA RACE")) {
		t.Errorf("the race detector found a data race in hush kernel run")
	}
	if err != nil {
		t.Fatalf("drive.py %s %s failed: %v (stderr %d bytes, not shown: it may hold kernel output)", name, scenario, err, stderr.Len())
	}
	return res
}

// TestWrappedKernelRedactsEveryMessage runs real ipykernel under the built
// "hush kernel run" through jupyter_client: kernel_info works, and no
// message the client receives holds a secret, whether printed as a
// preloaded literal, fetched with dbutils and split across flushes, in the
// environment (the bridge token), as a cell's value, in an exception or in
// an input() prompt.
func TestWrappedKernelRedactsEveryMessage(t *testing.T) {
	ke := newKernelEnv(t)
	res := ke.drive(t, "hush-python3", "leak")
	if f := res.fact(t, "kernel_info"); f["kernel_info"] != "ok" || f["language"] != "python" {
		t.Fatalf("kernel_info: %v %v", f["kernel_info"], f["language"])
	}
	cells := map[string]map[string]any{}
	for _, f := range res.facts {
		if c, ok := f["cell"].(string); ok {
			cells[c] = f
		}
	}
	want := map[string]struct {
		reply, stream, result string
	}{
		"literal": {"ok", "preloaded: [REDACTED]\n", ""},
		"split":   {"ok", "[REDACTED]\n", ""},
		"token":   {"ok", "token [REDACTED]\n", ""},
		"value":   {"ok", "", "[REDACTED]"},
		"error":   {"error", "", "bad [REDACTED]"},
		"input":   {"ok", "got fine\n", ""},
	}
	for name, w := range want {
		c, ok := cells[name]
		if !ok {
			t.Errorf("cell %s: not run", name)
			continue
		}
		if c["reply"] != w.reply {
			t.Errorf("cell %s: reply status %v, want %s", name, c["reply"], w.reply)
		}
		if w.stream != "" && c["stream"] != w.stream {
			t.Errorf("cell %s: stream output is not %q", name, w.stream)
		}
		if w.result != "" {
			rs, _ := c["results"].([]any)
			if len(rs) == 0 || !strings.Contains(rs[0].(string), w.result) {
				t.Errorf("cell %s: no result showing %q", name, w.result)
			}
		}
	}
	if f := res.fact(t, "beating"); f["beating"] != true {
		t.Error("the client's heartbeat channel does not see the kernel beating")
	}
	if res.msgs < 30 {
		t.Errorf("only %d messages reached the client", res.msgs)
	}
}

// TestWrappedKernelInterrupt interrupts time.sleep(60) in both interrupt
// modes: SIGINT through the wrapper ("signal", the default), and an
// interrupt_request on control forwarded to the inner kernel ("message").
func TestWrappedKernelInterrupt(t *testing.T) {
	ke := newKernelEnv(t)
	writeSpec(t, filepath.Join(ke.path, "kernels", "pymsg"), map[string]any{
		"argv":           []string{systemPython, "-m", "ipykernel_launcher", "-f", "{connection_file}"},
		"display_name":   "Python (message interrupts)",
		"language":       "python",
		"interrupt_mode": "message",
	})
	ke.run(t, "kernel", "install", "--wrap", "pymsg", "--hush", ke.hush)
	for _, name := range []string{"hush-python3", "hush-pymsg"} {
		t.Run(name, func(t *testing.T) {
			res := ke.drive(t, name, "interrupt")
			f := res.fact(t, "interrupted")
			if f["interrupted"] != "error" || f["ename"] != "KeyboardInterrupt" || f["parent"] != true {
				t.Fatalf("interrupt: reply %v, ename %v", f["interrupted"], f["ename"])
			}
			if s, _ := f["seconds"].(float64); s > 45 {
				t.Fatalf("the sleep was not interrupted (%.0f s)", s)
			}
			if a := res.fact(t, "after"); a["after"] != "42\n" {
				t.Fatalf("the kernel does not run cells after the interrupt")
			}
		})
	}
}

func writeSpec(t *testing.T, dir string, doc map[string]any) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWrappedKernelRestartAndShutdown restarts the kernel (a new wrapper
// and inner kernel, the old ones gone) and shuts it down (nothing left).
func TestWrappedKernelRestartAndShutdown(t *testing.T) {
	ke := newKernelEnv(t)
	res := ke.drive(t, "hush-python3", "restart")
	f := res.fact(t, "restarted")
	if f["restarted"] != true || f["old_alive"] != false || f["after"] != "42\n" {
		t.Fatalf("restart: new wrapper %v, old processes alive %v, cell after restart ran %v", f["restarted"], f["old_alive"], f["after"] == "42\n")
	}
	s := res.fact(t, "shutdown_alive")
	if s["shutdown_alive"] != false || s["inner_gone"] != true || s["exit_code"] != float64(0) {
		t.Fatalf("shutdown: wrapper alive %v, inner kernel gone %v, wrapper exit code %v (want 0)", s["shutdown_alive"], s["inner_gone"], s["exit_code"])
	}
}

// TestWrapperSIGKILLLeavesNoKernel kills the wrapper with SIGKILL: the
// inner kernel must not survive it.
func TestWrapperSIGKILLLeavesNoKernel(t *testing.T) {
	ke := newKernelEnv(t)
	res := ke.drive(t, "hush-python3", "kill-wrapper")
	if f := res.fact(t, "inner_found"); f["inner_found"] != true {
		t.Fatal("the inner kernel process was not found under the wrapper")
	}
	if f := res.fact(t, "inner_gone"); f["inner_gone"] != true {
		t.Fatal("the inner kernel survived kill -9 of the wrapper")
	}
}

// TestDeadInnerKernelEndsWrapper kills the inner kernel: the wrapper exits
// with its status (128+SIGKILL).
func TestDeadInnerKernelEndsWrapper(t *testing.T) {
	ke := newKernelEnv(t)
	res := ke.drive(t, "hush-python3", "kill-inner")
	if f := res.fact(t, "inner_found"); f["inner_found"] != true {
		t.Fatal("the inner kernel process was not found under the wrapper")
	}
	f := res.fact(t, "wrapper_exited")
	if f["wrapper_exited"] != true || f["exit_code"] != float64(137) {
		t.Fatalf("after the inner kernel died: wrapper exited %v, code %v (want 137)", f["wrapper_exited"], f["exit_code"])
	}
}

// TestWrapperDropsBadSignatures sends the wrapper a request signed with
// another key: it is dropped (and logged), and a correctly signed one from
// the same client is answered to that client's identity.
func TestWrapperDropsBadSignatures(t *testing.T) {
	ke := newKernelEnv(t)
	res := ke.drive(t, "hush-python3", "badsig")
	if f := res.fact(t, "bad_answered"); f["bad_answered"] != false {
		t.Fatal("a request with a bad signature was answered")
	}
	if f := res.fact(t, "good_answered"); f["good_answered"] != true || f["good_parent"] != true {
		t.Fatalf("a correctly signed request from a second client: answered %v, to its request %v", f["good_answered"], f["good_parent"])
	}
	if !bytes.Contains(res.stderr, []byte("dropped a shell message from the frontend: decode zmq message: invalid message signature")) {
		t.Fatal("the dropped message was not logged")
	}
}
