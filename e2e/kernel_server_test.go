package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freshSecret is put after the kernel started: the wrapper cannot have
// pre-loaded it, so it is redacted only because its bridge registered it
// when the kernel fetched it.
const freshSecret = "hush-e2e-fresh-after-start-7Yq"

// TestKernelJupyterServerWithoutProxy starts the wrapped kernel from a real
// jupyter_server with no hush proxy anywhere and talks to it over the
// server's own websocket, in both wire formats: no frame holds a secret.
func TestKernelJupyterServerWithoutProxy(t *testing.T) {
	f := setupKernels(t)
	jbin := requireJupyter(t)
	token := randomHex(16)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	pr := startProcess(t, "jupyter-server", f.env, jbin,
		"--ServerApp.ip=127.0.0.1", fmt.Sprintf("--ServerApp.port=%d", port), "--ServerApp.port_retries=0",
		"--ServerApp.token="+token, "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
		"--ServerApp.root_dir="+f.work, "--ServerApp.password=")
	waitHTTP(t, "jupyter-server", base+"/api/status?token="+token, pr)
	s := &stack{token: token}
	status, body := s.api(t, base, "POST", "/api/kernels", map[string]any{"name": "hush-python3"})
	if status != 201 {
		t.Fatalf("start hush-python3: %d %s", status, body)
	}
	var kernel struct{ ID string }
	if err := json.Unmarshal(body, &kernel); err != nil {
		t.Fatalf("kernel %s: %v", body, err)
	}
	t.Cleanup(func() { s.api(t, base, "DELETE", "/api/kernels/"+kernel.ID, nil) })
	earlyFile := filepath.Join(f.work, "early.txt")
	if err := os.WriteFile(earlyFile, []byte(earlySecret), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "v1"}[v1], func(t *testing.T) {
			k := dialKernel(t, base, token, kernel.ID, v1)
			k.t = t
			msgs := k.execute(`s = dbutils.secrets.get(scope="e2e", key="late")
print(s)`)
			wantText(t, "print", streamText(msgs, "stdout"), "[REDACTED]\n")
			msgs = k.execute(`z = dbutils.secrets.get(scope="e2e", key="split")
import time
from IPython.display import display
for i in range(0, len(z), 5):
    print(z[i:i+5], end="", flush=True); time.sleep(0.1)
print(z[:-1], end="", flush=True)
display("between")
print(z[-1:])`)
			noFragment(t, "the split print", allStrings(mustRoundTrip(msgs)))
			msgs = k.execute(`raise ValueError("bad value " + s)`)
			if e := find(msgs, "error"); e == nil {
				t.Error("exception: no error message")
			} else {
				wantText(t, "exception", fmt.Sprint(e.Content["evalue"]), "bad value [REDACTED]")
			}
			msgs = k.execute(`from IPython.display import HTML
display(HTML("<i>" + s + "</i>"))
s`)
			if d := find(msgs, "display_data"); d == nil {
				t.Error("HTML display: none")
			} else {
				wantText(t, "HTML display", fmt.Sprint(d.Content["data"].(map[string]any)["text/html"]), "<i>[REDACTED]</i>")
			}
			if r := find(msgs, "execute_result"); r == nil {
				t.Error("cell value: none")
			} else {
				wantText(t, "cell value", fmt.Sprint(r.Content["data"].(map[string]any)["text/plain"]), "'[REDACTED]'")
			}
			msgs = k.execute(`answer = input("type " + s + ": ")
print("got", answer)`)
			if req := find(msgs, "input_request"); req == nil {
				t.Error("input(): no input_request")
			} else {
				wantText(t, "input() prompt", fmt.Sprint(req.Content["prompt"]), "type [REDACTED]: ")
			}
			wantText(t, "input() answer", streamText(msgs, "stdout"), "got typed\n")
			msgs = k.execute(`print(open(` + strconv.Quote(earlyFile) + `).read())`)
			wantText(t, "pre-loaded secret read from a file", streamText(msgs, "stdout"), "[REDACTED]\n")
			if !v1 { // once: the value exists only from now on
				f.secrets.put(t, "e2e", "fresh", freshSecret)
			}
			msgs = k.execute(`print(dbutils.secrets.get(scope="e2e", key="fresh"))`)
			wantText(t, "a value put after the kernel started", streamText(msgs, "stdout"), "[REDACTED]\n")
			msgs = k.execute(`import os
print({k: v for k, v in os.environ.items() if k.startswith("DATABRICKS_")})`)
			wantContains(t, "the bridge token in the environment", streamText(msgs, "stdout"), "'DATABRICKS_TOKEN': '[REDACTED]'")
			for i, fr := range k.frames {
				noSecret(t, fmt.Sprintf("frame %d", i), fr)
			}
		})
	}
}

// TestKernelLifecycle drives the wrapped kernels through
// jupyter_client.KernelManager (testdata/kernel_lifecycle.py): interrupt a
// time.sleep(60) cell, restart, shut down, kill -9 of the wrapper leaves no
// inner kernel, a dead inner kernel makes the wrapper exit; once with the
// default interrupt_mode (signal) and once with a kernelspec whose
// interrupt_mode is "message" (interrupt_request on the control channel),
// wrapped with --wrap.
func TestKernelLifecycle(t *testing.T) {
	f := setupKernels(t)
	f.writeKernelSpec(t, "py-msgint", kernelSpecFile{
		Argv:          []string{systemPython, "-m", "ipykernel_launcher", "-f", "{connection_file}"},
		DisplayName:   "Python (message interrupt)",
		Language:      "python",
		InterruptMode: "message",
		Metadata:      map[string]any{"hush_e2e": "kept"},
	})
	f.hushOK(t, "kernel", "install", "--wrap", "py-msgint", "--hush", f.hush)
	spec := f.kernelSpec(t, "hush-py-msgint")
	if spec.InterruptMode != "message" || spec.Metadata["hush_e2e"] != "kept" || spec.DisplayName != "Python (message interrupt) (hush)" {
		t.Errorf("hush-py-msgint does not keep the inner spec: %+v", spec)
	}
	if len(spec.Argv) < 2 || spec.Argv[0] != f.hush || !strings.Contains(strings.Join(spec.Argv, " "), "kernel run") {
		t.Errorf("hush-py-msgint argv %q does not start hush kernel run", spec.Argv)
	}
	_, _, err := f.run(t, time.Minute, "", f.hush, "kernel", "install", "--wrap", "hush-py-msgint", "--hush", f.hush)
	if err == nil {
		t.Error("wrapping a wrapped kernelspec was accepted")
	}

	script, err := filepath.Abs(filepath.Join("testdata", "kernel_lifecycle.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hush-python3", "hush-py-msgint"} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := f.run(t, 4*time.Minute, "", systemPython, script, name)
			noSecret(t, "the lifecycle run's output", []byte(stdout+stderr))
			if err != nil {
				t.Fatalf("lifecycle of %s: %v\n%s", name, err, safeLog(stdout+stderr))
			}
		})
	}
}

// TestKernelConformance runs the jupyter_kernel_test suite
// (testdata/kernel_conformance.py, one test class) against the bare
// ipykernel and against the same ipykernel wrapped by hush: every test the
// bare kernel passes, the wrapped one passes too.
func TestKernelConformance(t *testing.T) {
	f := setupKernels(t)
	if err := exec.Command(systemPython, "-c", "import jupyter_kernel_test").Run(); err != nil {
		needE2E(t, "jupyter_kernel_test is not installed (apt-get install python3-jupyter-kernel-test): %v", err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "kernel_conformance.py"))
	if err != nil {
		t.Fatal(err)
	}
	f.writeKernelSpec(t, "bare-python3", kernelSpecFile{
		Argv:        []string{systemPython, "-m", "ipykernel_launcher", "-f", "{connection_file}"},
		DisplayName: "Python 3 (bare)", Language: "python",
	})
	f.env = append(f.env, "HUSH_BARE_KERNEL=bare-python3", "HUSH_WRAPPED_KERNEL=hush-python3")
	stdout, stderr, err := f.run(t, 5*time.Minute, "", systemPython, script)
	if err != nil {
		t.Fatalf("kernel_conformance.py: %v\n%s", err, safeLog(stderr))
	}
	var outcomes map[string]map[string]string
	if err := json.Unmarshal([]byte(stdout), &outcomes); err != nil {
		t.Fatalf("kernel_conformance.py output %q: %v\n%s", stdout, err, safeLog(stderr))
	}
	bare, wrapped := outcomes["Bare"], outcomes["Wrapped"]
	passed := 0
	for test, outcome := range bare {
		if outcome == "ok" {
			passed++
		}
		if outcome == "ok" && wrapped[test] != "ok" {
			t.Errorf("%s passes on the bare ipykernel, %s on the wrapped one", test, orMissing(wrapped[test]))
		}
	}
	if passed < 10 {
		t.Errorf("only %d conformance tests pass on the bare ipykernel: %v\n%s", passed, outcomes, safeLog(stderr))
	}
	if t.Failed() {
		t.Logf("unittest log:\n%s", safeLog(stderr))
	}
}

func orMissing(s string) string {
	if s == "" {
		return "did not run"
	}
	return s
}

// TestKernelSlowSubscriberDoesNotStallOthers connects a second iopub
// subscriber that never reads (a frontend that hung or was suspended) and
// prints 20,000 lines through jupyter_client: every line reaches the
// reading client, from the bare ipykernel (the control: ZeroMQ drops for
// the slow subscriber only) and from the wrapped one.
func TestKernelSlowSubscriberDoesNotStallOthers(t *testing.T) {
	f := setupKernels(t)
	f.writeKernelSpec(t, "bare-python3", kernelSpecFile{
		Argv:        []string{systemPython, "-m", "ipykernel_launcher", "-f", "{connection_file}"},
		DisplayName: "Python 3 (bare)", Language: "python",
	})
	script, err := filepath.Abs(filepath.Join("testdata", "kernel_slow_subscriber.py"))
	if err != nil {
		t.Fatal(err)
	}
	const lines = 20000
	for _, name := range []string{"bare-python3", "hush-python3"} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := f.run(t, 4*time.Minute, "", systemPython, script, name, strconv.Itoa(lines))
			if err != nil {
				t.Fatalf("kernel_slow_subscriber.py: %v\n%s", err, safeLog(stderr))
			}
			var res struct {
				Lines  int
				Status string
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("kernel_slow_subscriber.py output %q: %v", stdout, err)
			}
			if res.Lines != lines || res.Status != "ok" {
				t.Errorf("%s with an idle second subscriber: %d of %d lines reached the reading client, cell %s",
					name, res.Lines, lines, res.Status)
			}
		})
	}
}
