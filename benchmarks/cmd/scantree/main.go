// Command scantree makes the tree benchmarks/scan_bench scans (source
// files and notebooks with planted secret values, and a git history of many
// commits), and scores the reports of hush scan and gitleaks against what
// was planted.
//
//	scantree -tree DIR -mb 200 -values 1000      # writes DIR, DIR.values.json, DIR.planted.json
//	scantree -history DIR -commits 10000 -values-from V.json   # a git repository via git fast-import
//	scantree -score -planted P.json -hush H.json -gitleaks G.json
//
// Everything is generated from a fixed seed: the same bytes on every run.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// planted is one value written into a file: where, and in which form.
type planted struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Value int    `json:"value"`
	Form  string `json:"form"`
}

func main() {
	tree := flag.String("tree", "", "write the file tree to `DIR`")
	mb := flag.Int("mb", 200, "size of the tree in MB")
	nValues := flag.Int("values", 1000, "how many secret values")
	history := flag.String("history", "", "write a git repository to `DIR`")
	commits := flag.Int("commits", 10000, "commits in the history")
	score := flag.Bool("score", false, "score reports against the planted values")
	plantedPath := flag.String("planted", "", "planted.json to score against")
	hushReport := flag.String("hush", "", "hush scan --format json report")
	gitleaksReport := flag.String("gitleaks", "", "gitleaks JSON report")
	flag.Parse()
	var err error
	switch {
	case *score:
		err = scoreReports(*plantedPath, *hushReport, *gitleaksReport)
	case *tree != "":
		err = writeTree(*tree, *mb<<20, makeValues(*nValues))
	case *history != "":
		err = writeHistory(*history, *commits, makeValues(*nValues))
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scantree:", err)
		os.Exit(1)
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// makeValues returns n values: a fifth each shaped like AWS access key
// ids, GitHub tokens and Slack bot tokens (which pattern scanners know),
// the rest passwords of 12 to 24 characters (which they do not).
func makeValues(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		switch i % 5 {
		case 0:
			out[i] = "AKIA" + randString(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
		case 1:
			out[i] = "ghp_" + randString(r, alnum, 36)
		case 2:
			out[i] = fmt.Sprintf("xoxb-%d-%d-%s", 1e11+r.Int64N(9e11), 1e11+r.Int64N(9e11), randString(r, alnum, 24))
		default:
			out[i] = randString(r, alnum+"!#%&*+-=?@^_~", 12+r.IntN(13))
		}
	}
	return out
}

var words = strings.Fields(`the data frame load model train epoch batch loss value result
config user request response server client table column index query cache
record stream buffer metric count total average sample feature label score`)

// filler appends n bytes or so of code-like lines to b.
func filler(r *rand.Rand, b *bytes.Buffer, n int, ext string) {
	end := b.Len() + n
	for b.Len() < end {
		w1, w2, w3 := words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))]
		switch ext {
		case ".py":
			fmt.Fprintf(b, "    %s_%s = compute_%s(%s, limit=%d)\n", w1, w2, w3, w1, r.IntN(1000))
		case ".yaml":
			fmt.Fprintf(b, "  %s_%s: %s-%d\n", w1, w2, w3, r.IntN(1e6))
		case ".log":
			fmt.Fprintf(b, "2026-12-07T09:%02d:%02d INFO %s %s %s took %dms\n", r.IntN(60), r.IntN(60), w1, w2, w3, r.IntN(900))
		default:
			fmt.Fprintf(b, "The %s of the %s is %s %d times.\n", w1, w2, w3, r.IntN(100))
		}
	}
}

// plant writes value v in form form on a line of its own and records it.
func plant(b *bytes.Buffer, path string, idx int, v, form string, out *[]planted) {
	line := bytes.Count(b.Bytes(), []byte("\n")) + 1
	var s string
	switch form {
	case "raw":
		s = fmt.Sprintf("password = \"%s\"\n", v)
	case "base64-std":
		s = fmt.Sprintf("auth: %s\n", base64.StdEncoding.EncodeToString([]byte("user:"+v)))
	case "url-query":
		s = fmt.Sprintf("GET /login?user=me&token=%s HTTP/1.1\n", url.QueryEscape(v))
	}
	b.WriteString(s)
	*out = append(*out, planted{Path: path, Line: line, Value: idx, Form: form})
}

// writeTree writes about size bytes of files under dir: 90% source, YAML,
// logs and Markdown of 8 to 120 KiB, 10% notebooks with PNG outputs; one
// value in every third file.
func writeTree(dir string, size int, values []string) error {
	r := rand.New(rand.NewPCG(3, 4))
	var plants []planted
	exts := []string{".py", ".yaml", ".log", ".md"}
	written := 0
	for i := 0; written < size; i++ {
		sub := fmt.Sprintf("pkg%02d/mod%02d", i%37, i%11)
		var b bytes.Buffer
		var name string
		if i%10 == 9 {
			name = fmt.Sprintf("%s/notebook%05d.ipynb", sub, i)
			b.Write(notebook(r, values, i, name, &plants))
		} else {
			ext := exts[i%len(exts)]
			name = fmt.Sprintf("%s/file%05d%s", sub, i, ext)
			n := 8<<10 + r.IntN(112<<10)
			filler(r, &b, n/2, ext)
			if i%3 == 0 {
				idx := r.IntN(len(values))
				form := []string{"raw", "base64-std", "url-query"}[i/3%3]
				plant(&b, name, idx, values[idx], form, &plants)
			}
			filler(r, &b, n/2, ext)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return err
		}
		written += b.Len()
	}
	if err := writeJSON(dir+".values.json", values); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "scantree: %d bytes in %s, %d values planted\n", written, dir, len(plants))
	return writeJSON(dir+".planted.json", plants)
}

// notebook is an nbformat 4 notebook with code cells, stream outputs and
// a PNG (base64) per cell; in every other notebook, a cell prints a value.
func notebook(r *rand.Rand, values []string, i int, name string, plants *[]planted) []byte {
	type cell map[string]any
	var cells []cell
	png := make([]byte, 6<<10)
	for k := range png {
		png[k] = byte(r.Uint32())
	}
	secretCell := -1
	idx := r.IntN(len(values))
	if i%20 == 9 {
		secretCell = r.IntN(8)
	}
	for c := range 8 {
		var text bytes.Buffer
		filler(r, &text, 2<<10, ".log")
		if c == secretCell {
			text.WriteString("connected with token " + values[idx] + "\n")
		}
		cells = append(cells, cell{
			"cell_type": "code", "id": fmt.Sprintf("c%05d-%d", i, c), "execution_count": c + 1, "metadata": cell{},
			"source": []string{"import pandas as pd\n", fmt.Sprintf("df = load(%d)\n", c), "print(df)"},
			"outputs": []any{
				cell{"output_type": "stream", "name": "stdout", "text": strings.SplitAfter(text.String(), "\n")},
				cell{"output_type": "display_data", "metadata": cell{}, "data": cell{"image/png": base64.StdEncoding.EncodeToString(png), "text/plain": []string{"<Figure>"}}},
			},
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	_ = enc.Encode(map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": cell{}, "cells": cells})
	if secretCell >= 0 {
		at := bytes.Index(b.Bytes(), []byte(values[idx]))
		*plants = append(*plants, planted{Path: name, Line: bytes.Count(b.Bytes()[:at], []byte("\n")) + 1, Value: idx, Form: "raw"})
	}
	return b.Bytes()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// writeHistory makes a git repository of commits commits through git
// fast-import: each commit changes one of 500 files of about 2 KiB; one
// commit in 100 adds a value.
func writeHistory(dir string, commits int, values []string) error {
	if err := exec.Command("git", "init", "-q", dir).Run(); err != nil {
		return fmt.Errorf("git init: %w", err)
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for c := 1; c <= commits; c++ {
		var b bytes.Buffer
		filler(r, &b, 2<<10, ".py")
		if c%100 == 0 {
			fmt.Fprintf(&b, "API_KEY = %q\n", values[r.IntN(len(values))])
		}
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", 1700000000+c, len(msg), msg)
		fmt.Fprintf(w, "M 100644 inline src/f%03d.py\ndata %d\n", r.IntN(500), b.Len())
		w.Write(b.Bytes())
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := in.Close(); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	return exec.Command("git", "-C", dir, "checkout", "-q", "main").Run()
}

// scoreReports prints how many planted values each report found (a report
// finds a planted value when it names its file and line).
func scoreReports(plantedPath, hushPath, gitleaksPath string) error {
	var plants []planted
	if err := readJSON(plantedPath, &plants); err != nil {
		return err
	}
	var hush struct {
		Findings []struct {
			Path string `json:"path"`
			Line int    `json:"line"`
		} `json:"findings"`
	}
	if err := readJSON(hushPath, &hush); err != nil {
		return err
	}
	var gl []struct {
		File      string
		StartLine int
	}
	if err := readJSON(gitleaksPath, &gl); err != nil {
		return err
	}
	type at struct {
		path string
		line int
	}
	hushAt, glAt := map[at]bool{}, map[at]bool{}
	for _, f := range hush.Findings {
		hushAt[at{filepath.ToSlash(filepath.Clean(f.Path)), f.Line}] = true
	}
	for _, f := range gl {
		glAt[at{filepath.ToSlash(filepath.Clean(f.File)), f.StartLine}] = true
	}
	hushFound, glFound := 0, 0
	byForm := map[string][2]int{}
	for _, p := range plants {
		k := at{p.Path, p.Line}
		c := byForm[p.Form]
		if hushAt[k] {
			hushFound++
			c[0]++
		}
		if glAt[k] {
			glFound++
			c[1]++
		}
		byForm[p.Form] = c
	}
	fmt.Printf("planted=%d hush_found=%d hush_findings=%d gitleaks_found=%d gitleaks_findings=%d\n",
		len(plants), hushFound, len(hush.Findings), glFound, len(gl))
	for form, c := range byForm {
		fmt.Printf("form=%s hush=%d gitleaks=%d\n", form, c[0], c[1])
	}
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
