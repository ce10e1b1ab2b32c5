package main

// Shared by the API commands (secrets, tokens, users, groups, audit): the
// connection flags (-p/--profile), the output flag (-o text|json, legacy
// --output JSON|TABLE), table and JSON printing, and terminal input.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// outputFormat is the value of -o/--output.
type outputFormat string

const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
	// outputLegacyJSON is JSON asked for in the legacy CLI's spelling
	// (--output JSON): the output is then what the legacy CLI printed.
	outputLegacyJSON outputFormat = "JSON"
)

// String implements pflag.Value.
func (o *outputFormat) String() string { return string(*o) }

// Set accepts the new CLI's "text"/"json" and the legacy CLI's "TABLE"/"JSON",
// in any case.
func (o *outputFormat) Set(s string) error {
	switch strings.ToLower(s) {
	case "text", "table":
		*o = outputText
	case "json":
		*o = outputJSON
		if s == "JSON" {
			*o = outputLegacyJSON
		}
	default:
		return fmt.Errorf("invalid output format %q: must be text or json (legacy: TABLE or JSON)", s)
	}
	return nil
}

// Type implements pflag.Value.
func (o *outputFormat) Type() string { return "text|json" }

// apiFlags are the flags every command that calls the server has.
type apiFlags struct {
	profile string
	output  outputFormat
}

// register adds -p/--profile and -o/--output as persistent flags of cmd, so
// every subcommand accepts them before or after its name.
func (f *apiFlags) register(cmd *cobra.Command) {
	f.output = outputText
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.profile, "profile", "p", "", "profile of ~/.databrickscfg to use (default $DATABRICKS_CONFIG_PROFILE, then DEFAULT)")
	pf.VarP(&f.output, "output", "o", "output format: text or json; with the legacy syntax (--output JSON, --scope flags, list) JSON is the API object the legacy CLI printed")
}

// client resolves the configuration (flags, environment, config file) and
// returns a client for it.
func (f *apiFlags) client() (*dbapi.Client, error) {
	cfg, err := dbapi.ResolveConfig(dbapi.ConfigOptions{Profile: f.profile})
	if err != nil {
		return nil, err
	}
	return dbapi.NewClient(cfg), nil
}

// json reports whether JSON output was asked for.
func (f *apiFlags) json() bool { return f.output == outputJSON || f.output == outputLegacyJSON }

// legacyJSON reports whether JSON output was asked for with the legacy
// CLI's syntax: --output JSON spelled as the legacy CLI documents it, the
// operands given as --flags, or a command called by its legacy name
// (such as list). The output is then exactly what the legacy CLI printed:
// the API's object ({"scopes": [...]}), not the new CLI's bare array.
func (f *apiFlags) legacyJSON(c *cobra.Command, legacyNames ...string) bool {
	if !f.json() {
		return false
	}
	if f.output == outputLegacyJSON {
		return true
	}
	for _, n := range legacyNames {
		if c.CalledAs() == n {
			return true
		}
	}
	for _, n := range []string{"scope", "key", "principal"} {
		if fl := c.Flags().Lookup(n); fl != nil && fl.Changed {
			return true
		}
	}
	return false
}

// printLegacyJSON writes v as the legacy Python CLI printed API answers,
// json.dumps(v, indent=2): fields in the API's order, two-space indent,
// every character outside printable ASCII escaped as \uXXXX (UTF-16, so
// a surrogate pair above U+FFFF), HTML characters as they are.
func printLegacyJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	var out strings.Builder
	for _, r := range buf.String() {
		switch {
		case r == 0x7f || (r >= 0x80 && r <= 0xffff):
			fmt.Fprintf(&out, "\\u%04x", r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&out, "\\u%04x\\u%04x", hi, lo)
		default:
			out.WriteRune(r)
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// printJSON writes v as indented JSON, as the Databricks CLIs print it,
// without HTML escaping.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// column is one column of a table: its header and whether it holds numbers
// (right-aligned, like the legacy CLI's tabulate).
type column struct {
	header  string
	numeric bool
}

// printTable writes rows in the layout of Python tabulate's "simple" format,
// which the legacy Databricks CLI prints: a header line, a dashed line, then
// the rows; columns are separated by two spaces, each is at least two wider
// than its header, numbers are right-aligned. Trailing blanks are trimmed.
func printTable(w io.Writer, cols []column, rows [][]string) error {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c.header) + 2
	}
	for _, r := range rows {
		for i := range cols {
			if i < len(r) {
				widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		var l strings.Builder
		for i, c := range cols {
			if i > 0 {
				l.WriteString("  ")
			}
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if c.numeric {
				l.WriteString(pad + cell)
			} else {
				l.WriteString(cell + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	headers := make([]string, len(cols))
	dashes := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
		dashes[i] = strings.Repeat("-", widths[i])
	}
	line(headers)
	line(dashes)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// terminalFd returns the file descriptor of r when r is a terminal.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return 0, false
	}
	return fd, true
}

// readLine reads one line from r without its line ending. io.EOF is returned
// only when nothing at all was read.
func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// readHidden reads one line from the terminal fd with echo turned off, and
// restores the terminal afterwards, also when ctx is cancelled (Ctrl-C) while
// waiting. The newline the user typed is not echoed, so one is written to echo.
func readHidden(ctx context.Context, fd int, r *bufio.Reader, echo io.Writer) (string, error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("read terminal settings: %w", err)
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("turn off terminal echo: %w", err)
	}
	restore := func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := readLine(r)
		done <- result{s, err}
	}()
	select {
	case res := <-done:
		restore()
		fmt.Fprintln(echo)
		return res.s, res.err
	case <-ctx.Done():
		restore()
		fmt.Fprintln(echo)
		return "", ctx.Err()
	}
}
