// Package scan finds the secret values hush knows in files, notebooks and
// git history: the engine of "hush scan".
//
// A pattern scanner guesses from the shape of a string; scan knows the
// values. It builds one redact.Redactor with every derived form of every
// value (the same redactor output goes through) and uses it as the filter:
// a buffer the redactor leaves unchanged holds no value, which is most
// files. Only a buffer with something in it is examined further, to say
// where each occurrence is (line and column), which value it is (by name:
// scope/key) and in which form (raw, json-python, base64-std, …). An
// occurrence the redactor redacted but no known needle explains (a form
// the redactor matches in a way scan does not model) is still reported,
// with form "other". A Finding never holds the value nor any part of it.
//
// Notebooks (.ipynb) are parsed: the JSON arrays of lines of a cell's
// source and outputs are joined before matching, so a value split over
// two lines is found, and the finding names the cell and the part of it.
package scan

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
)

// FormOther is the form of an occurrence that the redactor redacted but
// that no needle of scan's table explains.
const FormOther = "other"

// Secret is one value to look for and the name findings call it by.
type Secret struct {
	// Name says which value it is without showing it: "scope/key",
	// "--env NAME", "secrets.json item 3".
	Name string
	// Subject names it in warnings ("secret scope/key", "--env NAME");
	// Name when empty.
	Subject string
	// Value is the secret itself. It is only ever compared, never printed.
	Value []byte
}

// Options configure a Scanner. The length policy is the one of every hush
// command that redacts (cmd/hush's newRedactor): values shorter than
// MinLength are not looked for (and are listed by Short), derived forms
// only for values of at least DerivedMinLength bytes.
type Options struct {
	Secrets []Secret
	// MinLength is the shortest value looked for; 0 means the redactor's
	// default (redact.DefaultMinLength).
	MinLength int
	// DerivedMinLength is the shortest value whose derived forms are looked
	// for; it is raised to MinLength when smaller, and 0 means
	// redact.DefaultDerivedMinLength.
	DerivedMinLength int
	// Encodings are the derived forms looked for; nil means raw values
	// only, redact.AllEncodings() every form.
	Encodings []redact.Encoding
}

// ShortSecret names a value too short to be looked for reliably.
type ShortSecret struct {
	Subject string
	Length  int
	Minimum int
}

// Warning is the one wording of the short-value warning
// (handout.TooShortWarning), without a prefix.
func (s ShortSecret) Warning() string {
	return handout.TooShortWarning(s.Subject, s.Length, s.Minimum)
}

// Scanner finds secret values in buffers. It is safe for concurrent use.
type Scanner struct {
	red        *redact.Redactor
	secrets    []Secret
	minLen     int
	derivedMin int
	encodings  []redact.Encoding
	short      []ShortSecret

	tableOnce sync.Once
	table     *needleTable
}

// New builds the redactor of opts.Secrets, every hush form of each value
// (handout.Forms) with the derived encodings opts.Encodings.
func New(opts Options) (*Scanner, error) {
	minLen := opts.MinLength
	if minLen <= 0 {
		minLen = redact.DefaultMinLength
	}
	derivedMin := opts.DerivedMinLength
	if derivedMin <= 0 {
		derivedMin = redact.DefaultDerivedMinLength
	}
	derivedMin = max(derivedMin, minLen)
	s := &Scanner{
		red:        redact.New(redact.Options{MinLength: minLen, DerivedMinLength: derivedMin, Encodings: opts.Encodings}),
		minLen:     minLen,
		derivedMin: derivedMin,
		encodings:  append([]redact.Encoding(nil), opts.Encodings...),
	}
	var values [][]byte
	for _, sec := range opts.Secrets {
		if len(sec.Value) < minLen {
			subject := sec.Subject
			if subject == "" {
				subject = sec.Name
			}
			s.short = append(s.short, ShortSecret{Subject: subject, Length: len(sec.Value), Minimum: minLen})
			continue
		}
		s.secrets = append(s.secrets, sec)
		values = append(values, handout.Forms(sec.Value)...)
	}
	// Forms other than the raw value are never shorter than it, so no
	// value reaching AddAll is too short; a refusal is a real failure.
	if err := s.red.AddAll(values); err != nil && !errors.Is(err, redact.ErrTooShort) {
		return nil, fmt.Errorf("load %d values into the redactor: %w", len(s.secrets), err)
	}
	return s, nil
}

// Short lists the values too short to be looked for, in the order given.
func (s *Scanner) Short() []ShortSecret { return s.short }

// Len is the number of values looked for.
func (s *Scanner) Len() int { return len(s.secrets) }

// Redact returns data with every occurrence replaced by redact.Token: what
// --fix writes for a plain file.
func (s *Scanner) Redact(data []byte) []byte { return s.red.Redact(nil, data) }

// hit is one occurrence in a buffer: bytes [start, end), the values it is
// an occurrence of (indices into secrets) and the form.
type hit struct {
	start, end int
	owners     []int32
	form       string
}

// find returns the occurrences in data, by start offset, or nil when the
// redactor leaves data unchanged. buf is scratch space for the redacted
// copy; the possibly grown buffer is returned for reuse.
func (s *Scanner) find(data, buf []byte) ([]hit, []byte) {
	out := s.red.Redact(buf[:0], data)
	if bytes.Equal(out, data) {
		return nil, out
	}
	return s.attribute(data, out), out
}

// attribute explains why the redactor changed data into out: every needle
// occurrence, plus "other" for each redacted run no needle covers. Needles
// are searched for only around the redacted runs (an occurrence lies
// inside one), so a large file with one finding costs little more than a
// clean one.
func (s *Scanner) attribute(data, out []byte) []hit {
	runs := redactedRuns(data, out)
	table := s.needles()
	windows := make([]span, len(runs))
	for i, run := range runs {
		windows[i] = span{max(0, run.start-attributeMargin), min(len(data), run.end+attributeMargin)}
	}
	var hits []hit
	for _, w := range mergeSpans(windows) {
		for _, h := range table.search(data[w.start:w.end]) {
			h.start, h.end = h.start+w.start, h.end+w.start
			hits = append(hits, h)
		}
	}
	var covered []span
	for _, h := range hits {
		covered = append(covered, span{h.start, h.end})
	}
	covered = mergeSpans(covered)
	if !bytes.Equal(emitRedacted(data, covered), out) {
		for _, run := range runs {
			if !coveredBy(covered, run) {
				hits = append(hits, hit{start: run.start, end: run.end, form: FormOther})
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].start != hits[j].start {
			return hits[i].start < hits[j].start
		}
		return hits[i].end > hits[j].end
	})
	return dropNested(hits)
}

// attributeMargin is how far around a redacted run needles are searched,
// in case the alignment placed the run a little off.
const attributeMargin = 64

// dropNested removes an occurrence lying inside an earlier one of the same
// values (the raw value inside its own CRLF form, one base64 alignment
// inside another): one place, one finding.
func dropNested(hits []hit) []hit {
	out := hits[:0]
	for _, h := range hits {
		nested := false
		for i := len(out) - 1; i >= 0 && out[i].end > h.start; i-- {
			if h.end <= out[i].end && sameOwners(out[i].owners, h.owners) {
				nested = true
				break
			}
		}
		if !nested {
			out = append(out, h)
		}
	}
	return out
}

func sameOwners(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// names is the display name of an occurrence's values: "scope/key", or
// several joined with ", " when the same bytes are more than one value;
// "an unidentified value" for form other.
func (s *Scanner) names(owners []int32) string {
	if len(owners) == 0 {
		return "an unidentified value"
	}
	parts := make([]string, len(owners))
	for i, o := range owners {
		parts[i] = s.secrets[o].Name
	}
	return strings.Join(parts, ", ")
}

// needles returns the attribution table, built on first use: most scans
// find nothing and never need it.
func (s *Scanner) needles() *needleTable {
	s.tableOnce.Do(func() {
		s.table = buildNeedleTable(s.secrets, s.minLen, s.derivedMin, s.encodings)
	})
	return s.table
}
