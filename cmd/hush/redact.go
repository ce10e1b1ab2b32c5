package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
)

// redactFlags is the command line of hush redact.
type redactFlags struct {
	secrets     []string // --secret, in order
	secretsJSON string   // --secrets-json
	envs        []string // --env, in order
	encodings   string   // --encodings
	minLength   int      // --min-length
	binary      bool     // --binary
}

// redactSource is one value to redact and where it came from. origin names
// the source in warnings ("--secret #2", "--env DB_PASS", "secrets.json
// item 3"); the value itself is never printed.
type redactSource struct {
	origin string
	value  []byte
}

// redactReadSize is the size of one read from the input: whatever a read
// returns is redacted and written at once, so this bounds a write, not a
// wait.
const redactReadSize = 32 << 10

func newRedactCmd() *cobra.Command {
	f := &redactFlags{}
	cmd := &cobra.Command{
		Use:   "redact",
		Short: "Copy stdin to stdout with secret values replaced by " + redact.Token,
		Long: `Copy standard input to standard output, replacing every occurrence of a
secret value, and of its common encodings (JSON and Python string escapes,
Python str and bytes reprs, HTML entities, LaTeX escapes, URL and base64
encodings, base64 wrapped in lines, hex, CRLF line ends, and each line of a
multi-line value), with ` + redact.Token + `. Overlapping or touching occurrences
become one token. The encodings are matched for secrets of at least 8 bytes
(or --min-length, if that is larger): shorter ones would match by chance.

A value interrupted by terminal escape sequences (the colour codes of
grep --color=always, ls --color, coloured tracebacks) is still found: the
whole run, escape sequences included, becomes one ` + redact.Token + `.
--binary turns this off, for input that is not text.

Output leaves as soon as it is known to be safe: hush redact never waits for
a newline or for the end of the input. It holds back only bytes that could
be the start of a secret, until more input shows they are not, or the input
ends.

Secrets come from --secret, --env and --secrets-json, in any combination.
Values given with --secret are visible in the process list and in shell
history: prefer --env or --secrets-json for real credentials. A value
shorter than --min-length cannot be redacted safely (it would match
everywhere): hush redact warns on stderr, naming where the value came from
and its length but never the value, and goes on without it.

Exit status: 0 on success; 1 when reading the input or writing the output
fails; 2 for a bad command line or an unreadable or invalid secrets file.`,
		Example: `  # Keep a token held in the environment out of a build log
  make 2>&1 | hush redact --env DATABRICKS_TOKEN > build.log

  # Several values from a file holding a JSON array of strings
  hush redact --secrets-json secrets.json < job.log > job.redacted.log

  # Follow a log; redact only the exact bytes, no derived encodings
  tail -f app.log | hush redact --encodings raw --env API_KEY --env DB_PASS

  # Colour codes inside a value do not hide it
  grep --color=always DB_ app.env | hush redact --env DB_PASSWORD

  # Try it out
  echo 'password=hunter2-pw ok' | hush redact --secret hunter2-pw
  # prints: password=[REDACTED] ok`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRedact(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	// StringArray, not StringSlice: a comma is part of a secret, not a separator.
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret `VALUE` to redact (repeatable)")
	fl.StringVar(&f.secretsJSON, "secrets-json", "", "read secret values from `FILE`, a JSON array of strings")
	fl.StringArrayVar(&f.envs, "env", nil, "redact the value of environment variable `NAME` (repeatable)")
	fl.StringVar(&f.encodings, "encodings", "all",
		"which `FORMS` of each secret to redact: raw (exact bytes only), all, or a comma-separated list of forms ("+
			strings.Join(redactEncodingNames(), ", ")+")")
	fl.IntVar(&f.minLength, "min-length", 4, "redact only secrets of at least `N` bytes; shorter values are skipped with a warning")
	fl.BoolVar(&f.binary, "binary", false, "the input is not text: match values only as contiguous bytes, not through terminal escape sequences")
	return cmd
}

// redactEncodingNames lists the derived forms hush knows, for the help text.
func redactEncodingNames() []string {
	var names []string
	for _, e := range redact.AllEncodings() {
		names = append(names, string(e))
	}
	return names
}

// parseRedactEncodings turns --encodings into the Options.Encodings list.
func parseRedactEncodings(s string) ([]redact.Encoding, error) {
	switch strings.TrimSpace(s) {
	case "all":
		return redact.AllEncodings(), nil
	case "raw":
		return nil, nil
	case "":
		return nil, usagef("--encodings is empty: use raw, all, or a comma-separated list of forms")
	}
	var encs []redact.Encoding
	for _, name := range strings.Split(s, ",") {
		e, err := redact.ParseEncoding(strings.TrimSpace(name))
		if err != nil {
			return nil, usagef("--encodings: %v", err)
		}
		if e != redact.EncodingRaw {
			encs = append(encs, e)
		}
	}
	return encs, nil
}

// collectRedactSources gathers the values named on the command line, in order:
// --secret, then --env, then --secrets-json. An unset environment variable
// is a warning (the command still runs); an unreadable or invalid file is a
// usage error.
//
// A later source (for example a --scope NAME whose secrets are fetched from
// a hush server) adds its values here, with an origin for its warnings.
func collectRedactSources(f *redactFlags, stderr io.Writer) ([]redactSource, error) {
	var out []redactSource
	for i, s := range f.secrets {
		out = append(out, redactSource{origin: fmt.Sprintf("--secret #%d", i+1), value: []byte(s)})
	}
	for _, name := range f.envs {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, usagef("--env %q: not an environment variable name", name)
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			fmt.Fprintf(stderr, "hush redact: warning: --env %s: the variable is not set; there is nothing to redact for it\n", name)
			continue
		}
		out = append(out, redactSource{origin: "--env " + name, value: []byte(v)})
	}
	if f.secretsJSON != "" {
		fromFile, err := readRedactSecretsJSON(f.secretsJSON)
		if err != nil {
			return nil, err
		}
		out = append(out, fromFile...)
	}
	return out, nil
}

// readRedactSecretsJSON reads a JSON array of strings. Its errors say where the
// file is wrong but never quote its content, which is secret.
func readRedactSecretsJSON(path string) ([]redactSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--secrets-json: %v", err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, usagef("--secrets-json %s: %s", path, describeSecretsJSONError(data, err))
	}
	out := make([]redactSource, 0, len(items))
	for i, raw := range items {
		var s string
		if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &s) != nil {
			return nil, usagef("--secrets-json %s: item %d is not a string (want a JSON array of strings)", path, i+1)
		}
		out = append(out, redactSource{origin: fmt.Sprintf("%s item %d", path, i+1), value: []byte(s)})
	}
	return out, nil
}

// describeSecretsJSONError explains why data is not a JSON array, by position and
// JSON type only: encoding/json's own messages can quote a character of the
// input.
func describeSecretsJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return "the file is empty (want a JSON array of strings)"
	case errors.As(err, &syn):
		line := 1 + bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("invalid JSON at byte %d (line %d); want a JSON array of strings", syn.Offset, line)
	case errors.As(err, &typ):
		return fmt.Sprintf("the file holds a JSON %s, want a JSON array of strings", typ.Value)
	default:
		return "not a JSON array of strings"
	}
}

// newRedactor returns the redactor of every hush command that redacts: raw
// secrets of at least minLength bytes (0: the redactor's default of 4), and
// their derived forms encs for secrets of at least max(8, minLength) bytes,
// since derived forms of shorter values would match ordinary output.
func newRedactor(minLength int, encs []redact.Encoding) *redact.Redactor {
	return newRedactorOptions(minLength, encs, false)
}

// newRedactorOptions is newRedactor for text output (binary false: values
// are matched through terminal escape sequences too) or for binary input.
func newRedactorOptions(minLength int, encs []redact.Encoding, binary bool) *redact.Redactor {
	return redact.New(redact.Options{
		MinLength:        minLength,
		DerivedMinLength: max(redact.DefaultDerivedMinLength, minLength),
		Encodings:        encs,
		Binary:           binary,
	})
}

// runRedact is hush redact: build the redactor from the sources, then copy
// stdin to stdout through it.
func runRedact(ctx context.Context, f *redactFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if f.minLength < 1 {
		return usagef("--min-length must be at least 1, got %d", f.minLength)
	}
	encs, err := parseRedactEncodings(f.encodings)
	if err != nil {
		return err
	}
	sources, err := collectRedactSources(f, stderr)
	if err != nil {
		return err
	}
	r := newRedactorOptions(f.minLength, encs, f.binary)
	// Values too short are named here, by origin; the rest are loaded in
	// one step (AddAll: a --secrets-json of thousands builds its tables
	// once).
	values := make([][]byte, 0, len(sources))
	for _, src := range sources {
		if len(src.value) < f.minLength {
			warnNotRedacted(stderr, src, f.minLength, redact.ErrTooShort)
			continue
		}
		values = append(values, src.value)
	}
	if err := r.AddAll(values); err != nil {
		return fmt.Errorf("hush redact: load %d secrets: %w", len(values), err)
	}
	added := len(values)
	if added == 0 {
		fmt.Fprintln(stderr, "hush redact: warning: no secrets to redact; copying the input unchanged")
	}

	w := r.NewWriter(stdout)
	copyErr := copyRedacting(ctx, stdin, w)
	// At the end of the input, or when interrupted, release what is held:
	// a partial match that the input ended before completing.
	closeErr := w.Close()
	if copyErr != nil {
		return copyErr
	}
	if closeErr != nil {
		return fmt.Errorf("write output: %w", closeErr)
	}
	return nil
}

// warnNotRedacted tells the user that a value will not be redacted, naming
// its origin and length, never its bytes.
func warnNotRedacted(stderr io.Writer, src redactSource, minLength int, err error) {
	switch {
	case errors.Is(err, redact.ErrTooShort):
		// Empty values are too short too, and said so the same way.
		fmt.Fprintf(stderr, "hush redact: warning: %s\n", handout.TooShortWarning(src.origin, len(src.value), minLength))
	default:
		fmt.Fprintf(stderr, "hush redact: warning: %s (%s) will NOT be redacted: %v\n", src.origin, redactByteCount(len(src.value)), err)
	}
}

// redactByteCount is "1 byte" or "n bytes".
func redactByteCount(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// copyRedacting copies in to w one read at a time: every read's bytes are
// written at once, so nothing waits for a newline, a full buffer or the end
// of the input. Reads happen in a goroutine so that ctx can interrupt a
// read that blocks (a terminal, a quiet pipe); that goroutine then stays
// blocked in Read until the read returns or the process exits.
func copyRedacting(ctx context.Context, in io.Reader, w io.Writer) error {
	type result struct {
		n   int
		err error
	}
	buf := make([]byte, redactReadSize)
	results := make(chan result, 1)
	next := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			n, err := in.Read(buf)
			results <- result{n, err} // never blocks: one result is outstanding at a time
			if err != nil {
				return
			}
			select {
			case <-next: // buf is free again
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case res := <-results:
			if res.n > 0 {
				if _, err := w.Write(buf[:res.n]); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
			}
			if errors.Is(res.err, io.EOF) {
				return nil
			}
			if res.err != nil {
				return fmt.Errorf("read input: %w", res.err)
			}
			next <- struct{}{}
		}
	}
}
