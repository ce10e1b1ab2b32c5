package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientCell is a cell run by testdata/kernel_client.py; input answers its
// input() prompts.
type clientCell struct {
	Code  string `json:"code"`
	Input string `json:"input,omitempty"`
}

// clientResult is what kernel_client.py saw of one cell: the execute_reply
// content and the cell's iopub and stdin messages in arrival order.
type clientResult struct {
	Reply    map[string]any `json:"reply"`
	Messages []struct {
		Channel string         `json:"channel"`
		MsgType string         `json:"msg_type"`
		Content map[string]any `json:"content"`
	} `json:"messages"`
}

// stream joins the text of the cell's stream messages called name.
func (r *clientResult) stream(name string) string {
	var b strings.Builder
	for _, m := range r.Messages {
		if m.MsgType == "stream" && m.Content["name"] == name {
			b.WriteString(fmt.Sprint(m.Content["text"]))
		}
	}
	return b.String()
}

// first is the content of the cell's first message of type typ, or nil.
func (r *clientResult) first(typ string) map[string]any {
	for _, m := range r.Messages {
		if m.MsgType == typ {
			return m.Content
		}
	}
	return nil
}

// runClient runs cells on kernel through jupyter_client (kernel_client.py)
// with extra environment variables; it fails the test when anything the
// client or the kernel printed shows a secret.
func (f *kernelFixture) runClient(t *testing.T, kernel string, extraEnv []string, cells []clientCell) []clientResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "kernel_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	saved := f.env
	f.env = append(append([]string{}, f.env...), extraEnv...)
	stdout, stderr, err := f.run(t, 3*time.Minute, string(mustMarshal(cells)), systemPython, script, kernel)
	f.env = saved
	noSecret(t, "what jupyter_client received", []byte(stdout))
	noSecret(t, "the kernel's log", []byte(stderr))
	if err != nil {
		t.Fatalf("kernel_client.py %s: %v\n%s", kernel, err, safeLog(stderr))
	}
	var out struct{ Cells []clientResult }
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("kernel_client.py output: %v", err)
	}
	if len(out.Cells) != len(cells) {
		t.Fatalf("kernel_client.py ran %d cells of %d", len(out.Cells), len(cells))
	}
	return out.Cells
}

// TestKernelClientInputPromptAndInterleaving drives the wrapped kernel
// through jupyter_client, which answers input requests (nbconvert cannot):
// the input() and getpass prompts are redacted, and a secret printed in two
// parts with a display, a clear_output, a display update or the other
// stream between them never shows more than 3 of its bytes (issue 11,
// point 4, live).
func TestKernelClientInputPromptAndInterleaving(t *testing.T) {
	f := setupKernels(t)
	split := `print(z[:-1], end="", flush=True)` + "\n"
	cells := []clientCell{
		{Code: `import sys, time, getpass
from IPython.display import display, clear_output
s = dbutils.secrets.get(scope="e2e", key="late")
z = dbutils.secrets.get(scope="e2e", key="split")`},
		{Code: `answer = input("type " + s + ": ")
print("got", answer)`, Input: "typed"},
		{Code: `pw = getpass.getpass("password for " + s + ": ")
print(len(pw))`, Input: "1234567"},
		{Code: split + `display("between")
print(z[-1:])`},
		{Code: split + `clear_output()
print(z[-1:])`},
		{Code: split + `clear_output(wait=True)
print(z[-1:])`},
		{Code: split + `time.sleep(0.6)
display("after a pause")
print(z[-1:])`},
		{Code: split + `print("to stderr", file=sys.stderr, flush=True)
print(z[-1:])`},
		{Code: `sys.stderr.write(z[:-1]); sys.stderr.flush()
print("to stdout", flush=True)
sys.stderr.write(z[-1:] + "\n"); sys.stderr.flush()`},
		{Code: `h = display("first", display_id=True)
` + split + `h.update("second")
print(z[-1:])`},
	}
	res := f.runClient(t, "hush-python3", nil, cells)
	for i, r := range res {
		if r.Reply["status"] != "ok" {
			t.Errorf("cell %d: status %v %v", i, r.Reply["status"], safe(fmt.Sprint(r.Reply["evalue"])))
		}
		noFragment(t, fmt.Sprintf("the messages of cell %d", i), allStrings(mustRoundTrip(r.Messages)))
	}
	if req := res[1].first("input_request"); req == nil {
		t.Error("input(): no input_request")
	} else {
		wantText(t, "input() prompt", fmt.Sprint(req["prompt"]), "type [REDACTED]: ")
	}
	wantText(t, "input() answer reached the kernel", res[1].stream("stdout"), "got typed\n")
	if req := res[2].first("input_request"); req == nil || req["password"] != true {
		t.Errorf("getpass: input_request %s", safe(fmt.Sprint(req)))
	} else {
		wantText(t, "getpass prompt", fmt.Sprint(req["prompt"]), "password for [REDACTED]: ")
	}
	wantText(t, "getpass answer reached the kernel", res[2].stream("stdout"), "7\n")
	if d := res[3].first("display_data"); d == nil {
		t.Error("the display between the parts was lost")
	}
	if d := res[6].first("display_data"); d == nil {
		t.Error("the display after a pause was lost")
	}
	wantText(t, "stderr between the parts", res[7].stream("stderr"), "to stderr\n")
	wantText(t, "stdout between the parts", res[8].stream("stdout"), "to stdout\n")
	if d := res[9].first("update_display_data"); d == nil {
		t.Error("the display update between the parts was lost")
	}
}

// mustRoundTrip turns v into the generic form allStrings walks.
func mustRoundTrip(v any) any {
	var out any
	if err := json.Unmarshal(mustMarshal(v), &out); err != nil {
		panic(err)
	}
	return out
}

// TestKernelJupyterConsole runs `jupyter console` on the wrapped kernel, fed
// through a pipe (--simple-prompt reads lines from a pipe as from a
// terminal): nothing it prints shows a secret, in a print, a cell value, a
// traceback or an input() prompt.
func TestKernelJupyterConsole(t *testing.T) {
	requireTool(t, "/usr/bin/jupyter-console", "jupyter-console")
	f := setupKernels(t)
	if err := os.WriteFile(filepath.Join(f.work, "early.txt"), []byte(earlySecret), 0o600); err != nil {
		t.Fatal(err)
	}
	stdin := strings.Join([]string{
		`s = dbutils.secrets.get(scope="e2e", key="late")`,
		`print("printed:", s)`,
		`s`,
		`raise ValueError("bad value " + s)`,
		`answer = input("type " + s + ": ")`,
		`typed`,
		`print("got", answer)`,
		`print("file:", open("early.txt").read())`,
		`print("bytes:", dbutils.secrets.getBytes(scope="e2e", key="bin"))`,
		`print("the end")`,
	}, "\n") + "\n"
	stdout, stderr, err := f.run(t, 2*time.Minute, stdin, "/usr/bin/jupyter-console", "--kernel", "hush-python3", "--simple-prompt")
	noSecret(t, "jupyter console's output", []byte(stdout))
	noSecret(t, "jupyter console's stderr", []byte(stderr))
	if err != nil {
		t.Fatalf("jupyter console: %v\n%s", err, safeLog(stderr))
	}
	for _, want := range []string{"printed: [REDACTED]\n", "'[REDACTED]'", "type [REDACTED]: ", "got typed\n",
		"file: [REDACTED]\n", "bytes: b'[REDACTED]'", "the end\n"} {
		wantContains(t, "jupyter console", stdout, want)
	}
	wantContains(t, "jupyter console's traceback (on stderr)", stderr, ": bad value [REDACTED]\n")
}

// TestKernelWrapIRkernel wraps the R kernel with `hush kernel install --wrap
// ir`: the wrapped spec keeps ir's language, display name and resources, and
// a value the profile pre-loads is redacted whichever way R prints it.
func TestKernelWrapIRkernel(t *testing.T) {
	f := setupKernels(t)
	if _, _, err := f.run(t, time.Minute, "", "Rscript", "-e", `quit(status = !requireNamespace("IRkernel", quietly = TRUE))`); err != nil {
		needE2E(t, "R with IRkernel is not installed (apt-get install r-cran-irkernel): %v", err)
	}
	f.hushOK(t, "kernel", "install", "--wrap", "ir", "--hush", f.hush)
	spec := f.kernelSpec(t, "hush-ir")
	if spec.Language != "R" || spec.DisplayName != "R (hush)" {
		t.Errorf("hush-ir: language %q, display name %q", spec.Language, spec.DisplayName)
	}
	for _, res := range []string{"logo-64x64.png", "kernel.js"} {
		if _, err := os.Stat(filepath.Join(f.dataDir(), "kernels", "hush-ir", res)); err != nil {
			t.Errorf("hush-ir lacks ir's %s: %v", res, err)
		}
	}
	list := f.hushOK(t, "kernel", "list")
	if !strings.Contains(list, "hush-ir") {
		t.Errorf("hush kernel list does not show hush-ir:\n%s", list)
	}

	path := filepath.Join(f.work, "early.txt")
	if err := os.WriteFile(path, []byte(earlySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := strconv.Quote(path)
	res := f.runClient(t, "hush-ir", []string{"HUSH_E2E_VALUE=" + earlySecret}, []clientCell{
		{Code: `cat(readLines(` + p + `), "\n", sep = "")`},
		{Code: `cat(Sys.getenv("HUSH_E2E_VALUE"), "\n", sep = "")`},
		{Code: `readLines(` + p + `)`},
		{Code: `message(readLines(` + p + `))`},
		{Code: `stop(paste("bad value", readLines(` + p + `)))`},
	})
	wantText(t, "cat of a file", res[0].stream("stdout"), "[REDACTED]\n")
	wantText(t, "cat of an environment variable", res[1].stream("stdout"), "[REDACTED]\n")
	if r := res[2].first("display_data"); r == nil { // IRkernel shows values as display data
		t.Error("R cell value: no display_data")
	} else {
		data, _ := r["data"].(map[string]any)
		wantText(t, "R cell value", fmt.Sprint(data["text/plain"]), `[1] "[REDACTED]"`)
	}
	wantContains(t, "message()", res[3].stream("stderr"), "[REDACTED]\n")
	if e := res[4].first("error"); e == nil {
		t.Error("stop(): no error message")
	} else {
		wantContains(t, "stop()", fmt.Sprint(e["evalue"]), "bad value [REDACTED]")
	}
}

// kernelSpecFile is the part of a kernel.json the tests read.
type kernelSpecFile struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

func (f *kernelFixture) dataDir() string {
	for _, kv := range f.env {
		if v, ok := strings.CutPrefix(kv, "JUPYTER_DATA_DIR="); ok {
			return v
		}
	}
	panic("fixture without JUPYTER_DATA_DIR")
}

// kernelSpec reads the kernel.json of name in the fixture's data directory.
func (f *kernelFixture) kernelSpec(t *testing.T, name string) kernelSpecFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dataDir(), "kernels", name, "kernel.json"))
	if err != nil {
		t.Fatalf("kernelspec %s: %v", name, err)
	}
	var spec kernelSpecFile
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatalf("kernelspec %s: %v", name, err)
	}
	return spec
}

// writeKernelSpec writes a kernelspec name into the fixture's data directory.
func (f *kernelFixture) writeKernelSpec(t *testing.T, name string, spec kernelSpecFile) {
	t.Helper()
	dir := filepath.Join(f.dataDir(), "kernels", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), mustMarshal(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}
