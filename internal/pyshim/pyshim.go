// Package pyshim ships hush's Python dbutils shim (hush_dbutils.py, standard
// library only) and writes the Jupyter kernelspec that starts ipykernel with
// a ready `dbutils` object talking to hush's secrets bridge.
//
// The default kernelspec is wrapped: its argv runs ipykernel under
// "hush kernel run", which redacts every kernel message and hosts the
// kernel's own secrets bridge, handing it to the shim in DATABRICKS_HOST and
// DATABRICKS_TOKEN. An unwrapped kernelspec (Spec.Hush empty) names a
// bridge file written by "hush proxy" instead, which the shim reads on every
// call; no credential sits in kernel.json either way.
package pyshim

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hush-secrets/hush/internal/atomicfile"
)

//go:embed hush_dbutils.py
var shimSource []byte

// ModuleName is the Python module the kernel imports dbutils from.
const ModuleName = "hush_dbutils"

// DefaultKernelName is the kernelspec name "hush kernel install" uses.
const DefaultKernelName = "hush-python3"

// Source returns a copy of the shim's Python source.
func Source() []byte { return bytes.Clone(shimSource) }

// Spec describes one kernelspec to install.
type Spec struct {
	// Name is the kernelspec's directory name (letters, digits, '.', '_', '-').
	Name string
	// DisplayName is what notebook UIs show; empty means "Python 3 (hush)".
	DisplayName string
	// Python is the interpreter with ipykernel to run, an absolute path.
	Python string
	// Hush, when set, is the absolute path of the hush binary: the kernel
	// runs under "hush kernel run" (see kernelwrap), which gives it its own
	// bridge. BridgeFile is then optional: it is handed to the wrapper (as
	// HUSH_BRIDGE_FILE) to use as its upstream when it has no profile.
	Hush string
	// BridgeFile is the JSON file {"host","token"} the bridge is read from
	// (see WriteBridgeFile). Without Hush, either BridgeFile or Host must be
	// set.
	BridgeFile string
	// Host and Token, when BridgeFile is empty, are written into the
	// kernelspec's env as DATABRICKS_HOST/DATABRICKS_TOKEN.
	Host, Token string
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// KernelJSON is the kernel.json of a kernelspec.
type KernelJSON struct {
	Argv        []string          `json:"argv"`
	DisplayName string            `json:"display_name"`
	Language    string            `json:"language"`
	Env         map[string]string `json:"env,omitempty"`
	Metadata    map[string]any    `json:"metadata,omitempty"`
	// InterruptMode is "signal" (the default) or "message".
	InterruptMode string `json:"interrupt_mode,omitempty"`
}

// Build returns the kernel.json for spec installed in dir (the kernelspec's
// own directory, which also holds the shim).
func Build(spec Spec, dir string) (KernelJSON, error) {
	if !validName.MatchString(spec.Name) {
		return KernelJSON{}, fmt.Errorf("kernelspec name %q: use letters, digits, '.', '_' and '-' only", spec.Name)
	}
	if !filepath.IsAbs(spec.Python) {
		return KernelJSON{}, fmt.Errorf("python interpreter %q: an absolute path is required", spec.Python)
	}
	if spec.Hush == "" && spec.BridgeFile == "" && spec.Host == "" {
		return KernelJSON{}, errors.New("kernelspec: a bridge file or a bridge host is required")
	}
	if spec.Hush != "" && !filepath.IsAbs(spec.Hush) {
		return KernelJSON{}, fmt.Errorf("hush binary %q: an absolute path is required", spec.Hush)
	}
	if strings.ContainsAny(dir, "'\n\\") {
		return KernelJSON{}, fmt.Errorf("kernelspec directory %q contains a quote, backslash or newline", dir)
	}
	display := spec.DisplayName
	if display == "" {
		display = "Python 3 (hush)"
	}
	kj := KernelJSON{
		DisplayName: display,
		Language:    "python",
		Env:         map[string]string{"PYDEVD_DISABLE_FILE_VALIDATION": "1"},
		Metadata:    map[string]any{"debugger": true, "hush": map[string]any{"shim": ModuleName}},
	}
	if spec.BridgeFile != "" {
		kj.Env["HUSH_BRIDGE_FILE"] = spec.BridgeFile
	}
	if spec.Hush != "" {
		// The wrapper gives the kernel DATABRICKS_HOST/TOKEN of its own
		// bridge; the shim is found on PYTHONPATH and imported at start.
		kj.Env["PYTHONPATH"] = dir
		kj.Argv = []string{spec.Hush, "kernel", "run", "--connection-file", "{connection_file}", "--",
			spec.Python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
			"--IPKernelApp.exec_lines=from " + ModuleName + " import dbutils"}
		return kj, nil
	}
	if spec.BridgeFile == "" {
		kj.Env["DATABRICKS_HOST"] = spec.Host
		kj.Env["DATABRICKS_TOKEN"] = spec.Token
		kj.Env["DATABRICKS_AUTH_TYPE"] = "pat"
	}
	startup := fmt.Sprintf("import sys as _hs; _hs.path.insert(0, r'%s'); from %s import dbutils; _hs.path.remove(r'%s'); del _hs",
		dir, ModuleName, dir)
	kj.Argv = []string{spec.Python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
		"--IPKernelApp.exec_lines=" + startup}
	return kj, nil
}

// Install writes the kernelspec dir/<spec.Name>/ (kernel.json and the
// shim) into kernelsDir, e.g. ~/.local/share/jupyter/kernels, replacing an
// older one of the same name. It returns the kernelspec's directory.
func Install(kernelsDir string, spec Spec) (string, error) {
	abs, err := filepath.Abs(kernelsDir)
	if err != nil {
		return "", fmt.Errorf("kernels directory: %w", err)
	}
	dir := filepath.Join(abs, spec.Name)
	kj, err := Build(spec, dir)
	if err != nil {
		return "", err
	}
	doc, err := json.MarshalIndent(kj, "", " ")
	if err != nil {
		return "", fmt.Errorf("encode kernel.json: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create kernelspec directory: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, ModuleName+".py"), shimSource, 0o644); err != nil {
		return "", err
	}
	if err := atomicfile.Write(filepath.Join(dir, "kernel.json"), append(doc, '\n'), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// KernelsDir returns where Jupyter looks for kernelspecs: with prefix,
// <prefix>/share/jupyter/kernels; otherwise the user's data directory
// ($JUPYTER_DATA_DIR, else ~/.local/share/jupyter) plus /kernels.
func KernelsDir(prefix string) (string, error) {
	if prefix != "" {
		return filepath.Join(prefix, "share", "jupyter", "kernels"), nil
	}
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return filepath.Join(d, "kernels"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the Jupyter data directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "jupyter", "kernels"), nil
}

// FindPython returns the first interpreter that can import ipykernel among
// candidates (absolute paths or names looked up in PATH); nil candidates
// means python3 on PATH, then /usr/bin/python3.
func FindPython(ctx context.Context, candidates []string) (string, error) {
	if candidates == nil {
		candidates = []string{"python3", "/usr/bin/python3"}
	}
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if p, err = filepath.Abs(p); err != nil {
			continue
		}
		if exec.CommandContext(ctx, p, "-c", "import ipykernel").Run() == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Python with ipykernel found among %s; install ipykernel or pass --python", strings.Join(candidates, ", "))
}

// BridgeInfo is the content of the bridge file.
type BridgeInfo struct {
	Host  string `json:"host"`
	Token string `json:"token"`
}

// DefaultBridgeFile is where "hush proxy" writes, and hush kernels read,
// the bridge's address and token: <user config dir>/hush/bridge.json.
func DefaultBridgeFile() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the bridge file location: %w", err)
	}
	return filepath.Join(d, "hush", "bridge.json"), nil
}

// WriteBridgeFile atomically writes info to path with mode 0600 (its
// directory is created with mode 0700).
func WriteBridgeFile(path string, info BridgeInfo) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create bridge file directory: %w", err)
	}
	doc, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode bridge file: %w", err)
	}
	return atomicfile.Write(path, doc, 0o600)
}
