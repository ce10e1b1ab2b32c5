package scan

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Finding is one occurrence of a secret value. It names the value and the
// form, never the value nor any part of it.
type Finding struct {
	// Path is the file, as given or as git names it (slash-separated,
	// relative to the repository root) for --staged and --git.
	Path string `json:"path"`
	// Commit is the commit that added the blob, for --git.
	Commit string `json:"commit,omitempty"`
	// Line and Column are where the occurrence starts, from 1; the column
	// counts Unicode code points. EndLine and EndColumn are where it ends
	// (the column just after its last character).
	Line      int `json:"line"`
	Column    int `json:"column"`
	EndLine   int `json:"end_line"`
	EndColumn int `json:"end_column"`
	// Offset and Length are the occurrence's bytes in the file.
	Offset int `json:"offset"`
	Length int `json:"length"`
	// Secret names the value ("scope/key"; several joined with ", " when
	// they share the bytes).
	Secret string `json:"secret"`
	// Form is the form the value was found in: "raw", a derived encoding
	// (redact.AllEncodings) or "other".
	Form string `json:"form"`
	// Notebook says where in a notebook, for .ipynb files.
	Notebook *NotebookPlace `json:"notebook,omitempty"`
}

// Location is "path:line:col", prefixed by the short commit for --git.
func (f Finding) Location() string {
	loc := fmt.Sprintf("%s:%d:%d", f.Path, f.Line, f.Column)
	if f.Commit != "" {
		loc = shortCommit(f.Commit) + ":" + loc
	}
	return loc
}

// String is the text form of a finding:
// "path:line:col: scope/key (form)", and the notebook place when any.
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s (%s)", f.Location(), f.Secret, f.Form)
	if f.Notebook != nil {
		s += " in " + f.Notebook.String()
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// ScanBuffer finds the values in data, the content of the file called
// name (a notebook when it ends in .ipynb and parses as JSON). With fix it
// also returns data with every occurrence redacted (notebooks rewritten
// text by text, staying valid JSON), or nil when there is nothing to fix.
// buf is scratch space, returned grown for reuse.
func (s *Scanner) ScanBuffer(name string, data []byte, fix bool, buf []byte) (findings []Finding, fixed, scratch []byte, err error) {
	if isNotebook(name) {
		if root, perr := parseJSON(data); perr == nil && root.kind == 'o' {
			nbHits, fixedNB, err := s.scanNotebook(data, root, fix)
			if err != nil {
				return nil, nil, buf, fmt.Errorf("%s: %w", name, err)
			}
			return s.findings(name, data, nbHits), fixedNB, buf, nil
		}
	}
	hits, buf := s.find(data, buf)
	if len(hits) == 0 {
		return nil, nil, buf, nil
	}
	nbHits := make([]notebookHit, len(hits))
	for i, h := range hits {
		nbHits[i] = notebookHit{hit: h}
	}
	if fix {
		fixed = s.red.Redact(nil, data)
	}
	return s.findings(name, data, nbHits), fixed, buf, nil
}

// findings turns occurrences into Findings with line and column.
func (s *Scanner) findings(name string, data []byte, hits []notebookHit) []Finding {
	slices.SortStableFunc(hits, func(a, b notebookHit) int { return a.start - b.start })
	offs := make([]int, 0, 2*len(hits))
	for _, h := range hits {
		offs = append(offs, h.start, h.end)
	}
	pos := positions(data, offs)
	out := make([]Finding, len(hits))
	for i, h := range hits {
		f := Finding{
			Path: name, Offset: h.start, Length: h.end - h.start,
			Line: pos[2*i].line, Column: pos[2*i].col, EndLine: pos[2*i+1].line, EndColumn: pos[2*i+1].col,
			Secret: s.names(h.owners), Form: h.form,
		}
		if h.place.Part != "" {
			p := h.place
			f.Notebook = &p
		}
		out[i] = f
	}
	return out
}

type linecol struct{ line, col int }

// positions returns the line and column (from 1, columns in code points)
// of each offset of offs in data.
func positions(data []byte, offs []int) []linecol {
	order := make([]int, len(offs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return offs[a] - offs[b] })
	out := make([]linecol, len(offs))
	line, lineStart, pos := 1, 0, 0
	for _, i := range order {
		off := min(offs[i], len(data))
		for ; pos < off; pos++ {
			if data[pos] == '\n' {
				line++
				lineStart = pos + 1
			}
		}
		out[i] = linecol{line, 1 + utf8.RuneCount(data[lineStart:off])}
	}
	return out
}
