package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// cliEnv isolates a test from the user's Databricks configuration: HOME is a
// temporary directory and every DATABRICKS_* variable is empty. It returns the
// config file path the CLI will use.
func cliEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE", "VISUAL", "EDITOR"} {
		t.Setenv(v, "")
	}
	return filepath.Join(home, ".databrickscfg")
}

// cliResult is what one run of the CLI printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

// hush runs the CLI in-process with stdin and returns its output and exit code.
func hush(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdin, &out, &errb)
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok fails the test unless the run exited 0.
func (r cliResult) ok(t *testing.T) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// fails fails the test unless the run exited with code and stderr contains msg.
func (r cliResult) fails(t *testing.T, code int, msg string) cliResult {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, msg) {
		t.Fatalf("exit %d (want %d), stderr %q (want containing %q), stdout %q", r.code, code, r.stderr, msg, r.stdout)
	}
	return r
}
