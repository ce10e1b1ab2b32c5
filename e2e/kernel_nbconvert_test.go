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

// notebookCells are the cells of TestKernelNbconvertNeverShowsSecrets: every
// way issue 11 lists for a value to reach a saved notebook, each with what
// its outputs must be.
func notebookCells(earlyFile string) []notebookCell {
	return []notebookCell{
		{`s = dbutils.secrets.get(scope="e2e", key="late")
print(s)`, func(t *testing.T, o []map[string]any) {
			wantText(t, "print", streamOf(o, "stdout"), "[REDACTED]\n")
		}},
		{`import sys, time
z = dbutils.secrets.get(scope="e2e", key="split")
for i in range(0, len(z), 4):
    sys.stdout.write(z[i:i+4]); sys.stdout.flush(); time.sleep(0.1)
print()
sys.stderr.write("x" + z[:9]); sys.stderr.flush(); time.sleep(0.3)
sys.stderr.write(z[9:] + "y\n"); sys.stderr.flush()`, func(t *testing.T, o []map[string]any) {
			wantText(t, "split across flushes, stdout", streamOf(o, "stdout"), "[REDACTED]\n")
			wantText(t, "split across flushes, stderr", streamOf(o, "stderr"), "x[REDACTED]y\n")
		}},
		{`from IPython.display import display, clear_output
print(z[:-1], end="", flush=True)
display("between")
print(z[-1:])`, func(t *testing.T, o []map[string]any) {
			wantText(t, "display between the parts", mimeOf(o, "text/plain"), "'between'")
		}},
		{`print(z[:-1], end="", flush=True)
clear_output()
print(z[-1:], "after")`, func(t *testing.T, o []map[string]any) {
			wantContains(t, "clear_output between the parts", streamOf(o, "stdout"), "after\n")
		}},
		{`raise ValueError("bad value " + s)`, func(t *testing.T, o []map[string]any) {
			e := outputOf(o, "error")
			if e == nil {
				t.Errorf("exception: no error output in %d outputs", len(o))
				return
			}
			wantText(t, "exception", fmt.Sprint(e["evalue"]), "bad value [REDACTED]")
		}},
		{`s`, func(t *testing.T, o []map[string]any) {
			wantText(t, "cell value", mimeOf(o, "text/plain"), "'[REDACTED]'")
		}},
		{`from IPython.display import HTML, JSON
display(HTML("<b>" + s + "</b>"))
display(JSON({"pw": s}))`, func(t *testing.T, o []map[string]any) {
			wantText(t, "HTML display data", mimeOf(o, "text/html"), "<b>[REDACTED]</b>")
			wantText(t, "JSON display data", mimeOf(o, "application/json"), `{"pw":"[REDACTED]"}`)
		}},
		// nbclient never answers input requests (allow_stdin is False): the
		// kernel refuses input() before sending the prompt. The prompt itself
		// is checked live by TestKernelClientInputPromptAndInterleaving.
		{`answer = input("type " + s + ": ")`, func(t *testing.T, o []map[string]any) {
			e := outputOf(o, "error")
			if e == nil || e["ename"] != "StdinNotImplementedError" {
				t.Errorf("input() under nbconvert: %s", safe(fmt.Sprint(e)))
			}
		}},
		{`b = dbutils.secrets.getBytes(scope="e2e", key="bin")
print(b)
print(b.hex())
print(dbutils.secrets.get(scope="e2e", key="bin"))
print(len(b))`, func(t *testing.T, o []map[string]any) {
			lines := strings.Split(streamOf(o, "stdout"), "\n")
			if len(lines) != 5 {
				t.Errorf("getBytes of a non-UTF-8 value: %d lines %s", len(lines), safe(strings.Join(lines, "\n")))
				return
			}
			wantContains(t, "print(getBytes)", lines[0], "[REDACTED]")
			wantText(t, "getBytes(...).hex()", lines[1], "[REDACTED]")
			wantText(t, "get of a non-UTF-8 value", lines[2], "[REDACTED]")
			wantText(t, "len(getBytes)", lines[3], strconv.Itoa(len(binSecret)))
		}},
		{`print(open(` + strconv.Quote(earlyFile) + `).read())`, func(t *testing.T, o []map[string]any) {
			wantText(t, "pre-loaded secret read from a file", streamOf(o, "stdout"), "[REDACTED]\n")
		}},
		{`print("done")`, func(t *testing.T, o []map[string]any) {
			wantText(t, "last cell", streamOf(o, "stdout"), "done\n")
		}},
	}
}

// writeNotebook writes an nbformat 4.5 notebook of code cells for the
// kernelspec kernel.
func writeNotebook(t *testing.T, path, kernel string, sources []string) {
	t.Helper()
	cells := make([]any, len(sources))
	for i, src := range sources {
		cells[i] = map[string]any{"cell_type": "code", "id": fmt.Sprintf("cell-%d", i), "metadata": map[string]any{},
			"execution_count": nil, "outputs": []any{}, "source": src}
	}
	nb := map[string]any{"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": map[string]any{
		"kernelspec":    map[string]any{"name": kernel, "display_name": kernel, "language": "python"},
		"language_info": map[string]any{"name": "python"}}}
	if err := os.WriteFile(path, mustMarshal(nb), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKernelNbconvertNeverShowsSecrets executes a notebook with
// `jupyter nbconvert --to notebook --execute` on the wrapped kernel (no
// proxy): the saved notebook and its HTML export hold no secret, each cell
// shows [REDACTED] where the value was, and every cell ran.
func TestKernelNbconvertNeverShowsSecrets(t *testing.T) {
	requireTool(t, "/usr/bin/jupyter-nbconvert", "jupyter-nbconvert")
	f := setupKernels(t)
	earlyFile := filepath.Join(f.work, "early.txt")
	if err := os.WriteFile(earlyFile, []byte(earlySecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cells := notebookCells(earlyFile)
	sources := make([]string, len(cells))
	for i, c := range cells {
		sources[i] = c.source
	}
	writeNotebook(t, filepath.Join(f.work, "nb.ipynb"), "hush-python3", sources)

	stdout, stderr, err := f.run(t, 3*time.Minute, "", "/usr/bin/jupyter-nbconvert", "--to", "notebook", "--execute",
		"--allow-errors", "--ExecutePreprocessor.timeout=120", "--output", "executed.ipynb", "nb.ipynb")
	noSecret(t, "nbconvert's output and the kernel's log", []byte(stdout+stderr))
	if err != nil {
		t.Fatalf("nbconvert --execute: %v\n%s", err, safeLog(stderr))
	}
	saved, err := os.ReadFile(filepath.Join(f.work, "executed.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "the executed notebook", saved)

	var nb struct {
		Cells []struct {
			ExecutionCount *int             `json:"execution_count"`
			Outputs        []map[string]any `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(saved, &nb); err != nil {
		t.Fatalf("executed notebook: %v", err)
	}
	if len(nb.Cells) != len(cells) {
		t.Fatalf("executed notebook has %d cells, want %d", len(nb.Cells), len(cells))
	}
	for i, c := range nb.Cells {
		t.Run(fmt.Sprintf("cell-%d", i), func(t *testing.T) {
			if c.ExecutionCount == nil {
				t.Errorf("cell %d did not run", i)
			}
			cells[i].check(t, c.Outputs)
			texts := make([]any, len(c.Outputs))
			for j, o := range c.Outputs {
				texts[j] = o
			}
			noFragment(t, fmt.Sprintf("outputs of cell %d", i), allStrings(texts))
		})
	}

	_, stderr, err = f.run(t, 2*time.Minute, "", "/usr/bin/jupyter-nbconvert", "--to", "html", "executed.ipynb")
	if err != nil {
		t.Fatalf("nbconvert --to html: %v\n%s", err, safeLog(stderr))
	}
	html, err := os.ReadFile(filepath.Join(f.work, "executed.html"))
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "the HTML export", html)
	if n := strings.Count(string(html), "[REDACTED]"); n < 8 {
		t.Errorf("the HTML export shows [REDACTED] %d times: the outputs did not make it", n)
	}
}
