package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// The values planted in the notebook: a multi-line key (so it is split
// over the line arrays) and a one-line token.
const (
	nbKey   = "-----BEGIN HUSH KEY-----\nMIIE&ow<IBAAKCAQEA7hush\nQ2xvdWQtc2VjcmV0LWtleQ\n-----END HUSH KEY-----"
	nbToken = "tokQ9x-7f3e2a1b-hush"
)

// lines splits s as nbformat does (after each "\n").
func lines(s string) []string {
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// nbformatLayout writes v as nbformat does: keys sorted, one-space indent,
// non-ASCII and <>& as they are, a final newline.
func nbformatLayout(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type obj = map[string]any

// plantedNotebook is a valid nbformat 4.5 notebook with the key split over
// line arrays of a source, a stream output, an HTML output, a traceback and
// a text attachment, and the token in a source, a repr output, a PNG
// attachment (base64), cell metadata and notebook metadata.
func plantedNotebook(t *testing.T) []byte {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00"), nbToken...)
	nb := obj{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": obj{
			"kernelspec":   obj{"name": "python3", "display_name": "Python 3", "language": "python"},
			"hush_example": obj{"token": nbToken},
		},
		"cells": []any{
			obj{"cell_type": "markdown", "id": "md-key", "metadata": obj{},
				"source": lines("# Setup\n\n```\n" + nbKey + "\n```\n")},
			obj{"cell_type": "code", "id": "code-2", "execution_count": 1,
				"metadata": obj{"tags": []any{"setup"}, "note": "uses " + nbToken},
				"source":   lines("token = '" + nbToken + "'\nprint('hello')\nprint(key)\n"),
				"outputs": []any{
					obj{"output_type": "stream", "name": "stdout", "text": lines("hello\n" + nbKey + "\n")},
					obj{"output_type": "execute_result", "execution_count": 1, "metadata": obj{},
						"data": obj{"text/plain": lines("'" + nbToken + "'")}},
					obj{"output_type": "display_data", "metadata": obj{},
						"data": obj{"text/html": lines("<pre>" + html.EscapeString(nbKey) + "</pre>\n")}},
					obj{"output_type": "error", "ename": "ValueError", "evalue": "bad key",
						"traceback": strings.Split("Traceback (most recent call last):\n"+nbKey+"\nValueError: bad key", "\n")},
				}},
			obj{"cell_type": "markdown", "id": "att-3", "metadata": obj{},
				"source": []any{"![img](attachment:img.png)"},
				"attachments": obj{
					"img.png":  obj{"image/png": base64.StdEncoding.EncodeToString(png)},
					"note.txt": obj{"text/plain": lines("a note\n" + nbKey + "\n")},
				}},
			obj{"cell_type": "code", "id": "clean-4", "execution_count": nil, "metadata": obj{},
				"source": []any{"print('nothing secret')"}, "outputs": []any{}},
		},
	}
	return nbformatLayout(t, nb)
}

func TestNotebookFindingsNameCellAndPart(t *testing.T) {
	s := newScanner(t, Secret{Name: "app/key", Value: []byte(nbKey)}, Secret{Name: "app/token", Value: []byte(nbToken)})
	data := plantedNotebook(t)
	fs := scanText(t, s, "planted.ipynb", data)
	type where struct {
		secret, place string
	}
	got := map[where]int{}
	for _, f := range fs {
		if f.Notebook == nil {
			t.Fatalf("finding without a notebook place: %v", f)
		}
		got[where{f.Secret, f.Notebook.String()}]++
		// The position is where the occurrence starts in the file.
		start := data[f.Offset:]
		switch {
		case f.Secret == "app/key" && f.Form == "raw":
			if !bytes.HasPrefix(start, []byte("-----BEGIN")) {
				t.Errorf("%v: file there reads %q", f, start[:10])
			}
		case f.Secret == "app/token" && f.Form == "raw":
			if !bytes.HasPrefix(start, []byte(nbToken)) {
				t.Errorf("%v: file there reads %q", f, start[:10])
			}
		}
		if line := bytes.Count(data[:f.Offset], []byte("\n")) + 1; line != f.Line {
			t.Errorf("%v: offset is on line %d", f, line)
		}
	}
	want := map[where]int{
		{"app/key", "cell 1 (id md-key) source"}:       1,
		{"app/key", "cell 2 (id code-2) output"}:       3, // stream, HTML, traceback
		{"app/key", "cell 3 (id att-3) attachments"}:   1,
		{"app/token", "cell 2 (id code-2) source"}:     1,
		{"app/token", "cell 2 (id code-2) output"}:     1,
		{"app/token", "cell 2 (id code-2) metadata"}:   1,
		{"app/token", "cell 3 (id att-3) attachments"}: 1,
		{"app/token", "notebook metadata"}:             1,
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s in %s: %d findings, want %d", w.secret, w.place, got[w], n)
		}
	}
	if len(fs) != 10 {
		t.Errorf("%d findings, want 10: %v", len(fs), fs)
	}
	forms := map[string]bool{}
	for _, f := range fs {
		forms[f.Form] = true
	}
	for _, f := range []string{"raw", "html-python", "base64-std"} {
		if !forms[f] {
			t.Errorf("no finding in form %s: %v", f, fs)
		}
	}
}

func TestFixedNotebookIsCleanValidAndKeepsTheRest(t *testing.T) {
	s := newScanner(t, Secret{Name: "app/key", Value: []byte(nbKey)}, Secret{Name: "app/token", Value: []byte(nbToken)})
	data := plantedNotebook(t)
	fs, fixed, _, err := s.ScanBuffer("planted.ipynb", data, true, nil)
	if err != nil || len(fs) == 0 || fixed == nil {
		t.Fatalf("fix: %d findings, fixed %v, err %v", len(fs), fixed != nil, err)
	}
	if fs2 := scanText(t, s, "planted.ipynb", fixed); len(fs2) != 0 {
		t.Fatalf("fixed notebook still has %v", fs2)
	}
	redacttest.AssertNoSecret(t, fixed, []byte(nbToken), []byte(nbKey))
	for _, keep := range []string{`"print('nothing secret')"`, `"print('hello')\n"`, `"id": "clean-4"`, `"# Setup\n"`} {
		if !bytes.Contains(fixed, []byte(keep)) {
			t.Errorf("fixed notebook lost %s", keep)
		}
	}
	var nb struct {
		Cells []struct {
			Source []string `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(fixed, &nb); err != nil {
		t.Fatalf("fixed notebook is not JSON: %v", err)
	}
	if src := strings.Join(nb.Cells[0].Source, ""); src != "# Setup\n\n```\n[REDACTED]\n```\n" {
		t.Fatalf("fixed markdown source = %q", src)
	}
	for i, l := range nb.Cells[0].Source[:len(nb.Cells[0].Source)-1] {
		if !strings.HasSuffix(l, "\n") {
			t.Fatalf("line %d of the fixed source does not end in a newline: nbformat splits after each", i)
		}
	}
	nbformatRead(t, "original", data)
	nbformatRead(t, "fixed", fixed)
}

// nbformatRead loads and validates a notebook with Debian's nbformat, as
// Jupyter would. It skips loudly when nbformat is missing, unless
// HUSH_REQUIRE_E2E=1.
func nbformatRead(t *testing.T, what string, data []byte) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import nbformat").Run(); err != nil {
		if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
			t.Fatalf("HUSH_REQUIRE_E2E=1 but /usr/bin/python3 cannot import nbformat (install python3-nbformat): %v", err)
		}
		t.Skipf("SKIPPED: /usr/bin/python3 cannot import nbformat (install python3-nbformat, or HUSH_REQUIRE_E2E=1 to fail): %v", err)
	}
	path := filepath.Join(t.TempDir(), what+".ipynb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import sys, nbformat; nb = nbformat.read(sys.argv[1], as_version=4); nbformat.validate(nb); print(len(nb.cells))", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "4" {
		t.Fatalf("nbformat cannot read the %s notebook: %v\n%s", what, err, out)
	}
}

func TestNotebookThatIsNotJSONIsScannedAsText(t *testing.T) {
	s := newScanner(t, Secret{Name: "app/token", Value: []byte(nbToken)})
	data := []byte("{\"cells\": [ broken " + nbToken + "\n")
	fs, fixed, _, err := s.ScanBuffer("broken.ipynb", data, true, nil)
	if err != nil || len(fs) != 1 || fs[0].Notebook != nil || !bytes.Contains(fixed, []byte("[REDACTED]")) {
		t.Fatalf("findings %v, err %v", fs, err)
	}
}
