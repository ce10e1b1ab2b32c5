package kernelwrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// KernelSpec is one kernelspec as Jupyter finds it: a directory holding
// kernel.json and its resources (logos, kernel.js).
type KernelSpec struct {
	// Name is the kernelspec's name (its directory's name).
	Name string
	// Dir is the kernelspec's directory (jupyter's resource_dir).
	Dir string
	// JSON is kernel.json, decoded with every field kept.
	JSON map[string]any
}

// Argv returns the spec's argv, or nil when it is not a list of strings.
func (s KernelSpec) Argv() []string {
	raw, ok := s.JSON["argv"].([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, a := range raw {
		str, ok := a.(string)
		if !ok {
			return nil
		}
		out = append(out, str)
	}
	return out
}

// DisplayName returns the spec's display_name ("" when missing).
func (s KernelSpec) DisplayName() string {
	d, _ := s.JSON["display_name"].(string)
	return d
}

// Wrapped reports whether the spec runs its kernel under "hush kernel run",
// and the name of the kernelspec it wraps when hush wrote it ("" if unknown).
func (s KernelSpec) Wrapped() (inner string, wrapped bool) {
	argv := s.Argv()
	if len(argv) >= 3 && argv[1] == "kernel" && argv[2] == "run" {
		wrapped = true
	}
	if md, ok := s.JSON["metadata"].(map[string]any); ok {
		if h, ok := md["hush"].(map[string]any); ok {
			if n, ok := h["wraps"].(string); ok {
				return n, true
			}
		}
	}
	return "", wrapped
}

// SearchPath returns the directories Jupyter looks for kernelspecs in, in
// its order of precedence: each $JUPYTER_PATH entry, the user data directory
// ($JUPYTER_DATA_DIR, else ~/.local/share/jupyter), the extra prefixes given
// (e.g. the Python's sys.prefix), /usr/local/share/jupyter and
// /usr/share/jupyter; each with /kernels appended.
func SearchPath(getenv func(string) string, extraPrefixes ...string) []string {
	var dirs []string
	for _, p := range filepath.SplitList(getenv("JUPYTER_PATH")) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "kernels"))
		}
	}
	if d := getenv("JUPYTER_DATA_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "kernels"))
	} else if home := getenv("HOME"); home != "" {
		dirs = append(dirs, filepath.Join(home, ".local", "share", "jupyter", "kernels"))
	}
	for _, p := range extraPrefixes {
		dirs = append(dirs, filepath.Join(p, "share", "jupyter", "kernels"))
	}
	dirs = append(dirs, "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")
	seen := make(map[string]bool, len(dirs))
	out := dirs[:0]
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// FindSpecs returns every kernelspec in dirs; a name found in several
// directories is the first one's, as in Jupyter. Unreadable or malformed
// kernel.json files are skipped.
func FindSpecs(dirs []string) []KernelSpec {
	seen := make(map[string]bool)
	var out []KernelSpec
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			s, err := ReadSpec(filepath.Join(d, e.Name()))
			if err != nil {
				continue
			}
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FindSpec returns the kernelspec name as Jupyter would find it in dirs.
func FindSpec(dirs []string, name string) (KernelSpec, error) {
	for _, d := range dirs {
		s, err := ReadSpec(filepath.Join(d, name))
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return KernelSpec{}, err
		}
	}
	return KernelSpec{}, fmt.Errorf("no kernelspec named %q in %v (see \"hush kernel list\")", name, dirs)
}

// ReadSpec reads the kernelspec in dir.
func ReadSpec(dir string) (KernelSpec, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return KernelSpec{}, fmt.Errorf("read kernelspec: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return KernelSpec{}, fmt.Errorf("kernelspec %s: kernel.json is not a JSON object: %w", dir, err)
	}
	s := KernelSpec{Name: filepath.Base(dir), Dir: dir, JSON: doc}
	if len(s.Argv()) == 0 {
		return KernelSpec{}, fmt.Errorf("kernelspec %s: kernel.json has no argv list", dir)
	}
	return s, nil
}

// WrapperArgv returns the argv of a kernelspec that runs innerArgv under
// "hush kernel run", with hush the absolute path of the hush binary.
func WrapperArgv(hush string, innerArgv []string) []string {
	argv := []string{hush, "kernel", "run", "--connection-file", ConnectionFilePlaceholder, "--"}
	return append(argv, innerArgv...)
}

var validSpecName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// WriteWrapped writes kernelspec name into kernelsDir: inner's kernel.json
// with its argv run under hush (at the absolute path hush), " (hush)" added
// to its display name, metadata.hush.wraps naming inner, and every other
// field (language, env, metadata, interrupt_mode) and resource file kept.
// Wrapping a spec that already runs under hush is refused. It returns the
// new kernelspec's directory.
func WriteWrapped(kernelsDir, name, hush string, inner KernelSpec) (string, error) {
	if !validSpecName.MatchString(name) {
		return "", fmt.Errorf("kernelspec name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	if !filepath.IsAbs(hush) {
		return "", fmt.Errorf("hush binary %q: an absolute path is required", hush)
	}
	if _, wrapped := inner.Wrapped(); wrapped {
		return "", fmt.Errorf("kernelspec %q already runs under hush kernel run; wrap the kernel it wraps instead", inner.Name)
	}
	doc := make(map[string]any, len(inner.JSON)+1)
	for k, v := range inner.JSON {
		doc[k] = v
	}
	doc["argv"] = WrapperArgv(hush, inner.Argv())
	doc["display_name"] = inner.DisplayName() + " (hush)"
	md := map[string]any{}
	if old, ok := inner.JSON["metadata"].(map[string]any); ok {
		for k, v := range old {
			md[k] = v
		}
	}
	md["hush"] = map[string]any{"wraps": inner.Name}
	doc["metadata"] = md
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return "", fmt.Errorf("encode kernel.json: %w", err)
	}
	abs, err := filepath.Abs(kernelsDir)
	if err != nil {
		return "", fmt.Errorf("kernels directory: %w", err)
	}
	dir := filepath.Join(abs, name)
	if filepath.Clean(dir) == filepath.Clean(inner.Dir) {
		return "", fmt.Errorf("kernelspec %q would replace the kernelspec it wraps; choose another --name", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create kernelspec directory: %w", err)
	}
	if err := copyResources(inner.Dir, dir); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), append(out, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write kernel.json: %w", err)
	}
	return dir, nil
}

// copyResources copies the regular files of a kernelspec directory other
// than kernel.json (logos, kernel.js) into dst.
func copyResources(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read kernelspec resources: %w", err)
	}
	for _, e := range entries {
		if e.Name() == "kernel.json" || !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return fmt.Errorf("copy kernelspec resource %s: %w", e.Name(), err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
