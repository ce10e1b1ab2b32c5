// Package redact replaces secret values, and the forms notebook code commonly
// turns them into, with [REDACTED] in a stream of output bytes.
//
// A Redactor holds a growing set of patterns: each secret added with Add (or
// many at once with AddAll), plus its derived encodings (JSON, str and
// bytes reprs, HTML, LaTeX, percent, base64 plain and wrapped in lines,
// hex, the lines of a multi-line value, …) when Options.Encodings asks for
// them. Redact rewrites one buffer; a Writer rewrites a stream, however it
// is split into writes.
//
// The rule is union-merge-adjacent: every byte covered by any occurrence of
// any pattern (overlapping occurrences included) is marked, and each maximal
// run of marked bytes, including runs that merely touch, becomes one Token.
// Matching is byte-exact and case-sensitive; the Token is never scanned
// again. For text output (the default; see Options.Binary) patterns are
// also matched through terminal escape sequences: a value that colour codes
// interrupt is still an occurrence, and the whole run, escape sequences
// included, becomes one Token (see escape.go for the exact rule). A Writer's output does not depend on how its input is split into
// writes, and it holds back only a live partial match: the shortest tail of
// the input that could still be (part of) an occurrence.
//
// Adding a secret while Writers are active is safe: each Write uses the set
// as it is when the Write starts.
package redact

import (
	"errors"
	"fmt"
	"sync"
)

// Token is what every run of secret bytes is replaced with.
const Token = "[REDACTED]"

// ErrTooShort is returned (wrapped, with the length of the secret but never
// its value) by Add for a secret shorter than Options.MinLength: such a
// value would redact too much ordinary output to be useful, so it is not
// added and the caller should tell the user.
var ErrTooShort = errors.New("secret too short to redact")

// ErrFull is returned (wrapped) by Add when the set already holds the
// maximum number of patterns (2^31-1).
var ErrFull = errors.New("redaction set is full")

// Default length policy, applied for zero Options fields.
const (
	// DefaultMinLength is the default Options.MinLength.
	DefaultMinLength = 4
	// DefaultDerivedMinLength is the default Options.DerivedMinLength.
	DefaultDerivedMinLength = 8
)

// Options configure a Redactor.
type Options struct {
	// MinLength is the length, in bytes, below which a secret is refused by
	// Add (ErrTooShort) and a derived form is not a pattern. Zero or less
	// means DefaultMinLength (4).
	MinLength int
	// DerivedMinLength is the length, in bytes, a secret needs for its
	// derived forms to be added. Zero or less means DefaultDerivedMinLength
	// (8).
	DerivedMinLength int
	// Encodings are the derived forms added for each secret, besides the
	// raw bytes. Nil or empty means raw only; AllEncodings() means every
	// form hush knows.
	Encodings []Encoding
	// Binary turns off matching through terminal escape sequences (see
	// the package documentation): ESC bytes are data like any other, and
	// an occurrence is only ever a contiguous run of bytes. Set it for
	// streams that are not text (files, images, archives), where an ESC
	// byte starts no escape sequence. The default, for text output, is to
	// match through them.
	Binary bool
}

// Redactor is a set of secret patterns and the matcher over them. It is safe
// for concurrent use: Add may run while Redact and Writers are in use.
type Redactor struct {
	minLen     int
	derivedMin int
	encodings  []Encoding
	escapes    bool // match through terminal escape sequences (not Options.Binary)

	mu  sync.RWMutex // guards set: Add writes, scans read
	set *set
}

// New returns an empty Redactor with the given options.
func New(opts Options) *Redactor {
	r := &Redactor{
		minLen:     opts.MinLength,
		derivedMin: opts.DerivedMinLength,
		encodings:  append([]Encoding(nil), opts.Encodings...),
		escapes:    !opts.Binary,
		set:        newSet(),
	}
	if r.minLen <= 0 {
		r.minLen = DefaultMinLength
	}
	if r.derivedMin <= 0 {
		r.derivedMin = DefaultDerivedMinLength
	}
	return r
}

// Add registers secret and, when it is at least DerivedMinLength bytes long,
// its derived forms of the Redactor's encodings (derived forms shorter than
// MinLength are skipped). A secret shorter than MinLength is refused with an
// error wrapping ErrTooShort and nothing is added. Adding a secret again is a
// cheap no-op. Add may be called while other goroutines use the Redactor;
// every Write and Redact that starts after Add returns sees the new
// patterns. The secret is copied; the caller may reuse the slice.
//
// Add is amortised O(1) in the size of the set: the tables grow
// geometrically. A growth step rebuilds one table under the write lock, so
// a Write that coincides with it waits for the rebuild (tens of milliseconds
// at 100,000 secrets, rarely).
func (r *Redactor) Add(secret []byte) error {
	if len(secret) < r.minLen {
		return fmt.Errorf("redact: add secret of %d bytes (minimum %d): %w", len(secret), r.minLen, ErrTooShort)
	}
	// Patterns are only ever added: if their count is unchanged when the
	// write lock is taken, an absent secret is still absent, and the index
	// slot found for it is still where it goes.
	raw := string(secret)
	r.mu.RLock()
	h := r.set.index.hash(raw)
	slot, found := r.set.index.find(h, raw)
	known := found && r.set.index.isRaw(slot)
	seen := r.set.index.len()
	r.mu.RUnlock()
	if known {
		return nil
	}
	derived := r.derive(secret, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set.index.len()+1+len(derived) > maxPatterns {
		return fmt.Errorf("redact: add secret of %d bytes: %w", len(secret), ErrFull)
	}
	if !found && r.set.index.len() == seen {
		r.set.insert(slot, h, raw, true) // known absent: no second lookup
	} else {
		r.set.add(raw, true)
	}
	for _, d := range derived {
		r.set.add(d, false)
	}
	r.set.indexPending()
	return nil
}

// AddAll registers each of secrets as Add does, in one step: it takes the
// write lock once, and each table of the set grows at most once, to its
// final size, instead of once per doubling, so a large set builds in less
// time than with Add in a loop. It is the way to load many secrets at once
// (a file of them, a whole scope). Secrets shorter than MinLength are
// skipped; the others are added, and the error then wraps ErrTooShort and
// says how many were skipped and where the first is (never a value). When
// the set cannot take them all, none is added and the error wraps ErrFull.
func (r *Redactor) AddAll(secrets [][]byte) error {
	raws := make([]string, 0, len(secrets))
	var derived []string
	short, firstShort := 0, 0
	for i, secret := range secrets {
		if len(secret) < r.minLen {
			if short == 0 {
				firstShort = i
			}
			short++
			continue
		}
		raws = append(raws, string(secret))
		derived = r.derive(secret, derived)
	}
	r.mu.Lock()
	if r.set.index.len()+len(raws)+len(derived) > maxPatterns {
		r.mu.Unlock()
		return fmt.Errorf("redact: add %d secrets: %w", len(secrets), ErrFull)
	}
	for _, p := range raws {
		r.set.add(p, true)
	}
	for _, d := range derived {
		r.set.add(d, false)
	}
	r.set.indexPending()
	r.mu.Unlock()
	if short > 0 {
		return fmt.Errorf("redact: add secrets: %d of %d shorter than %d bytes were skipped (the first at index %d): %w", short, len(secrets), r.minLen, firstShort, ErrTooShort)
	}
	return nil
}

// derive appends to dst the derived forms of secret that are patterns:
// none when secret is shorter than DerivedMinLength, and only those of at
// least MinLength bytes.
func (r *Redactor) derive(secret []byte, dst []string) []string {
	if len(secret) >= r.derivedMin {
		dst = r.deriveForms(secret, dst)
	}
	return dst
}

// deriveForms appends to dst the derived forms of secret of at least
// MinLength bytes.
func (r *Redactor) deriveForms(secret []byte, dst []string) []string {
	for _, enc := range r.encodings {
		for _, d := range Derive(enc, secret) {
			if len(d) >= r.minLen {
				dst = append(dst, string(d))
			}
			if enc == EncodingLines {
				dst = r.deriveLine(d, dst)
			}
		}
	}
	return dst
}

// deriveLine appends the derived forms of line, a line of a multi-line
// secret, by the Redactor's other encodings: a line of a key printed as
// JSON or in a repr is as secret as the line itself.
func (r *Redactor) deriveLine(line []byte, dst []string) []string {
	for _, enc := range r.encodings {
		if enc == EncodingLines {
			continue
		}
		for _, d := range Derive(enc, line) {
			if len(d) >= r.minLen {
				dst = append(dst, string(d))
			}
		}
	}
	return dst
}

// MinLength returns the length, in bytes, below which Add refuses a secret
// (Options.MinLength after defaults), so that a caller warning about a value
// too short to redact can name the minimum.
func (r *Redactor) MinLength() int { return r.minLen }

// Len returns the number of distinct patterns (raw secrets and derived
// forms) in the set.
func (r *Redactor) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.set.index.len()
}

// Redact appends to dst the redacted form of src and returns the extended
// slice. src is treated as a whole stream: a secret cut off at the end of
// src is not redacted (use a Writer for streams).
func (r *Redactor) Redact(dst, src []byte) []byte {
	var v *escView
	r.mu.RLock()
	ivs, _ := r.set.scan(src, nil, false)
	if r.escapes && containsESC(src) {
		v = new(escView)
		v.build(src, true)
		ivs, _, _ = r.set.scanView(v, src, ivs, nil, false)
	}
	r.mu.RUnlock()
	if len(ivs) == 0 {
		return append(dst, src...)
	}
	ivs = mergeSpans(ivs)
	if v != nil {
		ivs = fillEscapes(ivs, v.escs)
	}
	dst, _ = emit(dst, src, ivs, 0, len(src), false)
	return dst
}
