package scan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Escapes before a value (\u00e9 as older writers with ensure_ascii=True
// leave it, a surrogate pair, \" and \n) shift the file position of the
// decoded text; the finding still points at the value in the file.
func TestNotebookPositionsAfterEscapes(t *testing.T) {
	const value = "tokQ9x-7f3e2a1b-hush"
	data := []byte(`{"cells": [{"cell_type": "code", "id": "e1", "metadata": {}, "outputs": [],
 "source": ["caf\u00e9 \ud83d\ude00 = \"x\"\n", "\tpw = '` + value + `'\n"]}],
 "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`)
	if !json.Valid(data) {
		t.Fatal("test notebook is not JSON")
	}
	s := newScanner(t, Secret{Name: "s/k", Value: []byte(value)})
	fs, fixed, _, err := s.ScanBuffer("e.ipynb", data, true, nil)
	if err != nil || len(fs) != 1 {
		t.Fatalf("findings %v, err %v", fs, err)
	}
	f := fs[0]
	if want := bytes.Index(data, []byte(value)); f.Offset != want || f.Length != len(value) {
		t.Fatalf("offset %d length %d, want %d and %d", f.Offset, f.Length, want, len(value))
	}
	if f.Line != 2 || f.Notebook == nil || f.Notebook.String() != "cell 1 (id e1) source" {
		t.Fatalf("finding %v", f)
	}
	var nb struct {
		Cells []struct{ Source []string }
	}
	if err := json.Unmarshal(fixed, &nb); err != nil {
		t.Fatalf("fixed notebook: %v", err)
	}
	want := []string{"caf\u00e9 \U0001F600 = \"x\"\n", "\tpw = '[REDACTED]'\n"}
	if len(nb.Cells[0].Source) != 2 || nb.Cells[0].Source[0] != want[0] || nb.Cells[0].Source[1] != want[1] {
		t.Fatalf("fixed source %q, want %q", nb.Cells[0].Source, want)
	}
}

func TestDecodeStringAndRawOffset(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string
	}{
		{`"plain"`, "plain"},
		{`"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f"},
		{`"\u00e9\u20ac\ud83d\ude00"`, "\u00e9\u20ac\U0001F600"},
		{`"lone \ud800 x"`, "lone \uFFFD x"},
		{`"bad \x"`, "bad \uFFFD"},
	} {
		data := []byte(tc.raw)
		got := decodeString(nil, data, 0, len(data))
		var std string
		if json.Unmarshal(data, &std) == nil && std != string(got) && tc.raw != `"bad \x"` {
			t.Errorf("%s: decoded %q, encoding/json %q", tc.raw, got, std)
		}
		if string(got) != tc.want {
			t.Errorf("%s: decoded %q, want %q", tc.raw, got, tc.want)
		}
		// The last decoded byte maps into the string's body.
		if off := rawOffset(data, 0, len(data), len(got)-1); off < 1 || off >= len(data)-1 {
			t.Errorf("%s: last byte maps to %d", tc.raw, off)
		}
	}
	if _, err := parseJSON([]byte(`{"a": [1, "x",]}`)); err == nil {
		t.Fatal("a trailing comma parses")
	}
	if _, err := parseJSON(bytes.Repeat([]byte("["), maxJSONDepth+2)); err == nil {
		t.Fatal("deep nesting parses")
	}
}
