package kernelwrap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKernelJSON(t *testing.T, dir string, doc map[string]any, extra ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range extra {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("resource "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteWrappedKeepsEverythingButArgv(t *testing.T) {
	src := filepath.Join(t.TempDir(), "kernels", "ir")
	writeKernelJSON(t, src, map[string]any{
		"argv":           []string{"R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"},
		"display_name":   "R",
		"language":       "R",
		"env":            map[string]string{"R_LIBS": "/opt/r"},
		"metadata":       map[string]any{"debugger": false},
		"interrupt_mode": "message",
	}, "logo-64x64.png", "kernel.js")
	inner, err := ReadSpec(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "kernels")
	dir, err := WriteWrapped(out, "hush-ir", "/usr/bin/hush", inner)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := "/usr/bin/hush kernel run --connection-file {connection_file} -- R --slave -e IRkernel::main() --args {connection_file}"
	if strings.Join(got.Argv(), " ") != wantArgv {
		t.Fatalf("argv %q", got.Argv())
	}
	if got.DisplayName() != "R (hush)" || got.JSON["language"] != "R" || got.JSON["interrupt_mode"] != "message" {
		t.Fatalf("display %q, language %v, interrupt_mode %v", got.DisplayName(), got.JSON["language"], got.JSON["interrupt_mode"])
	}
	if env, _ := got.JSON["env"].(map[string]any); env["R_LIBS"] != "/opt/r" {
		t.Fatalf("env not kept: %v", got.JSON["env"])
	}
	md, _ := got.JSON["metadata"].(map[string]any)
	if md["debugger"] != false {
		t.Fatalf("metadata not kept: %v", md)
	}
	if w, wrapped := got.Wrapped(); !wrapped || w != "ir" {
		t.Fatalf("Wrapped() = %q, %v", w, wrapped)
	}
	for _, f := range []string{"logo-64x64.png", "kernel.js"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "resource "+f {
			t.Errorf("resource %s not copied: %v", f, err)
		}
	}
	if _, err := WriteWrapped(out, "hush-hush-ir", "/usr/bin/hush", got); err == nil || !strings.Contains(err.Error(), "already runs under hush") {
		t.Fatalf("wrapping a wrapped spec: %v", err)
	}
	if _, err := WriteWrapped(filepath.Dir(src), "ir", "/usr/bin/hush", inner); err == nil {
		t.Fatal("a wrapped spec replaced the spec it wraps")
	}
	if _, err := WriteWrapped(out, "bad name", "/usr/bin/hush", inner); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := WriteWrapped(out, "x", "hush", inner); err == nil {
		t.Fatal("relative hush path accepted")
	}
}

func TestFindSpecsFollowsJupyterPrecedence(t *testing.T) {
	tmp := t.TempDir()
	env := map[string]string{
		"JUPYTER_PATH":     filepath.Join(tmp, "jp"),
		"JUPYTER_DATA_DIR": filepath.Join(tmp, "data"),
	}
	dirs := SearchPath(func(k string) string { return env[k] }, filepath.Join(tmp, "prefix"))
	want := []string{filepath.Join(tmp, "jp", "kernels"), filepath.Join(tmp, "data", "kernels"), filepath.Join(tmp, "prefix", "share", "jupyter", "kernels"),
		"/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels"}
	if strings.Join(dirs, ",") != strings.Join(want, ",") {
		t.Fatalf("SearchPath = %q", dirs)
	}
	writeKernelJSON(t, filepath.Join(tmp, "jp", "kernels", "py"), map[string]any{"argv": []string{"first"}, "display_name": "first"})
	writeKernelJSON(t, filepath.Join(tmp, "data", "kernels", "py"), map[string]any{"argv": []string{"second"}, "display_name": "second"})
	writeKernelJSON(t, filepath.Join(tmp, "data", "kernels", "broken"), map[string]any{"display_name": "no argv"})
	specs := FindSpecs(dirs[:3])
	if len(specs) != 1 || specs[0].DisplayName() != "first" {
		t.Fatalf("FindSpecs: %d specs, first %q", len(specs), specs[0].DisplayName())
	}
	s, err := FindSpec(dirs[:3], "py")
	if err != nil || s.DisplayName() != "first" {
		t.Fatalf("FindSpec: %v", err)
	}
	if _, err := FindSpec(dirs[:3], "nope"); err == nil || !strings.Contains(err.Error(), "hush kernel list") {
		t.Fatalf("missing spec: %v", err)
	}
}
