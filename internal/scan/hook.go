package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hush-secrets/hush/internal/atomicfile"
)

// hookMarker is the line that marks a pre-commit hook as hush's own, so
// installing again replaces it and a foreign hook is left alone.
const hookMarker = "# hush-scan pre-commit hook"

// ErrForeignHook is returned by InstallHook when the repository already
// has a pre-commit hook that hush did not write.
var ErrForeignHook = errors.New("a pre-commit hook that hush did not write is already installed")

// HookScript is the pre-commit hook running "hush scan --staged" with
// extra arguments args (for example --secrets-json FILE). hush is the
// binary to run; the hook falls back to the hush on PATH when it is gone.
func HookScript(hush string, args []string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(hookMarker + " (written by hush scan --install-hook).\n")
	b.WriteString("# Blocks a commit that holds a secret value hush knows. To commit anyway\n")
	b.WriteString("# (the value is a test fixture you meant to commit): git commit --no-verify\n")
	fmt.Fprintf(&b, "hush=%s\n", shellQuote(hush))
	b.WriteString("[ -x \"$hush\" ] || hush=hush\n")
	b.WriteString("exec \"$hush\" scan --staged")
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// InstallHook writes script as the pre-commit hook of the repository
// containing dir (where git looks for hooks, core.hooksPath included) and
// returns its path. An existing hook is replaced only when hush wrote it,
// or when force.
func InstallHook(ctx context.Context, dir, script string, force bool) (string, error) {
	out, err := gitOutput(ctx, dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	if err != nil {
		return "", fmt.Errorf("install hook: not in a git repository? %w", err)
	}
	hooks := strings.TrimSpace(string(out))
	path := filepath.Join(hooks, "pre-commit")
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("install hook: read the existing %s: %w", path, err)
	case !bytes.Contains(old, []byte(hookMarker)) && !force:
		return "", fmt.Errorf("install hook: %s: %w (--force replaces it; or call hush scan --staged from it)", path, ErrForeignHook)
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return "", fmt.Errorf("install hook: %w", err)
	}
	if err := atomicfile.Write(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("install hook: %w", err)
	}
	return path, nil
}
