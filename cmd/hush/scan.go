package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/scan"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// scanFlags is the command line of hush scan.
type scanFlags struct {
	all, binary, fix     bool
	format               string
	staged, git          bool
	installHook, force   bool
	secretsJSON, profile string
	envs                 []string
	minLength            int
}

// Exit status of hush scan besides exitOK and exitUsage.
const exitFound = 1

func newScanCmd() *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan [PATH...] | --staged | --git [REV-RANGE...] | --install-hook",
		Short: "Find the secret values hush knows in files, notebooks and git history",
		Long: `Looks for the values of your secrets, and every encoding hush redacts (JSON
and Python escapes, repr, HTML, URL, base64, hex, CRLF), in files, notebooks
and git history. It knows the actual values, so it finds any kind of
password and never cries wolf on a string that merely looks like a key.

The values are those the current profile can read (hush configure, or
DATABRICKS_HOST and DATABRICKS_TOKEN), or, offline, --secrets-json FILE (a
JSON array of strings) and --env NAME. They stay in memory and are never
printed: a finding is "path:line:col: scope/key (form)".

PATHs (default .) are files and directories. In a git work tree, files git
ignores are skipped (--all scans them); binary files are skipped unless
--binary. In a notebook (.ipynb) a value split over the lines of a cell's
source or output is found, and the finding names the cell (position from 1,
and id) and the part: source, output, metadata or attachments.

--fix replaces each occurrence with ` + redact.Token + ` in place (a new file
renamed over the old, mode kept; notebooks stay valid nbformat JSON) and
says what it changed.

--staged scans what is about to be committed (the index, not the work tree).
--git scans history: every blob added in REV-RANGE (git log syntax, default
HEAD), each blob once, named by commit and path. --install-hook writes a
pre-commit hook running hush scan --staged (with the --secrets-json, --env,
--min-length and --profile given) and refuses to replace a hook hush did
not write unless --force.

A value shorter than --min-length cannot be scanned for reliably (it would
match everywhere): it is named, with its length, in a warning.

Exit status: 0 when nothing was found; 1 when something was found; 2 for a
bad command line, when the secrets cannot be loaded (server unreachable,
bad --secrets-json), or when a file could not be read or fixed and nothing
was found.`,
		Example: `  # Scan the current directory with every secret your profile can read
  hush scan

  # Offline, in CI, with a SARIF report for code scanning
  hush scan --secrets-json secrets.json --format sarif . > hush.sarif

  # Redact what was found, in place
  hush scan --fix notebooks/

  # Block commits that hold a value
  hush scan --install-hook

  # What a branch added
  hush scan --git main..HEAD`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.all, "all", false, "also scan files git ignores")
	fl.BoolVar(&f.binary, "binary", false, "also scan binary files")
	fl.BoolVar(&f.fix, "fix", false, "replace every occurrence with "+redact.Token+" in place")
	fl.StringVar(&f.format, "format", scan.FormatText, "output `FORMAT`: text, json or sarif (SARIF 2.1.0)")
	fl.BoolVar(&f.staged, "staged", false, "scan the files staged for the next commit (the index)")
	fl.BoolVar(&f.git, "git", false, "scan the blobs added in git history: arguments are a revision range (default HEAD)")
	fl.BoolVar(&f.installHook, "install-hook", false, "write a git pre-commit hook running hush scan --staged")
	fl.BoolVar(&f.force, "force", false, "with --install-hook: replace a pre-commit hook hush did not write")
	fl.StringVar(&f.secretsJSON, "secrets-json", "", "look for the values in `FILE`, a JSON array of strings, instead of asking the server")
	fl.StringArrayVar(&f.envs, "env", nil, "look for the value of environment variable `NAME` instead of asking the server (repeatable)")
	fl.IntVar(&f.minLength, "min-length", redact.DefaultMinLength, "look only for values of at least `N` bytes; shorter ones are named in a warning")
	fl.StringVarP(&f.profile, "profile", "p", "", "profile of ~/.databrickscfg to use (default $DATABRICKS_CONFIG_PROFILE, then DEFAULT)")
	return cmd
}

// check refuses combinations of flags that make no sense.
func (f *scanFlags) check(args []string) error {
	switch f.format {
	case scan.FormatText, scan.FormatJSON, scan.FormatSARIF:
	default:
		return usagef("--format %q: must be text, json or sarif", f.format)
	}
	if f.minLength < 1 {
		return usagef("--min-length must be at least 1, got %d", f.minLength)
	}
	modes := 0
	for _, on := range []bool{f.staged, f.git, f.installHook} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return usagef("--staged, --git and --install-hook exclude one another")
	case f.fix && (f.staged || f.git):
		return usagef("--fix rewrites files: it cannot be combined with --staged or --git (fix the work tree, then stage again)")
	case f.force && !f.installHook:
		return usagef("--force goes with --install-hook")
	case (f.staged || f.installHook) && len(args) > 0:
		return usagef("--staged and --install-hook take no arguments")
	}
	return nil
}

// runScan is hush scan.
func runScan(ctx context.Context, f *scanFlags, args []string, stdout, stderr io.Writer) error {
	if err := f.check(args); err != nil {
		return err
	}
	if f.installHook {
		return installScanHook(ctx, f, stdout)
	}
	secrets, err := scanSecrets(ctx, f, stderr)
	if err != nil {
		return err
	}
	s, err := scan.New(scan.Options{Secrets: secrets, MinLength: f.minLength, Encodings: redact.AllEncodings()})
	if err != nil {
		return err
	}
	for _, short := range s.Short() {
		fmt.Fprintf(stderr, "hush scan: warning: %s\n", short.Warning())
	}
	if s.Len() == 0 {
		fmt.Fprintln(stderr, "hush scan: warning: no secret values to look for")
	}
	opts := scan.ScanOptions{All: f.all, Binary: f.binary, Fix: f.fix}
	var rep *scan.Report
	switch {
	case f.staged:
		rep, err = s.ScanStaged(ctx, ".", opts)
	case f.git:
		rep, err = s.ScanHistory(ctx, ".", args, opts)
	default:
		if len(args) == 0 {
			args = []string{"."}
		}
		rep, err = s.ScanPaths(ctx, args, opts)
	}
	if err != nil {
		return usageError{err}
	}
	return finishScan(rep, f.format, stdout, stderr)
}

// finishScan writes the report and picks the exit status.
func finishScan(rep *scan.Report, format string, stdout, stderr io.Writer) error {
	var err error
	switch format {
	case scan.FormatJSON:
		err = rep.WriteJSON(stdout)
	case scan.FormatSARIF:
		err = rep.WriteSARIF(stdout, hushVersion())
	default:
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stderr, "hush scan: %s\n", e)
	}
	if format != scan.FormatText {
		fmt.Fprintf(stderr, "hush scan: %s\n", rep.Summary())
	}
	switch {
	case len(rep.Findings) > 0:
		return exitCodeError{exitFound}
	case len(rep.Errors) > 0:
		return exitCodeError{exitUsage}
	}
	return nil
}

// hushVersion is the module version of this binary, for SARIF.
func hushVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// scanSecrets returns the values to look for: from --secrets-json and
// --env when given (offline), else every secret the profile can read. A
// failure to load them is exit status 2.
func scanSecrets(ctx context.Context, f *scanFlags, stderr io.Writer) ([]scan.Secret, error) {
	if f.secretsJSON != "" || len(f.envs) > 0 {
		return offlineScanSecrets(f, stderr)
	}
	cfg, err := dbapi.ResolveConfig(dbapi.ConfigOptions{Profile: f.profile})
	if err != nil {
		return nil, usageError{fmt.Errorf("find the secrets server (or give --secrets-json/--env): %w", err)}
	}
	secrets, err := loadServerSecrets(ctx, dbapi.NewClient(cfg))
	if err != nil {
		return nil, usageError{err}
	}
	return secrets, nil
}

// offlineScanSecrets reads --env and --secrets-json as hush redact does.
func offlineScanSecrets(f *scanFlags, stderr io.Writer) ([]scan.Secret, error) {
	var out []scan.Secret
	for _, name := range f.envs {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, usagef("--env %q: not an environment variable name", name)
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			fmt.Fprintf(stderr, "hush scan: warning: --env %s: the variable is not set; there is nothing to look for\n", name)
			continue
		}
		out = append(out, scan.Secret{Name: "$" + name, Subject: "--env " + name, Value: []byte(v)})
	}
	if f.secretsJSON != "" {
		items, err := readRedactSecretsJSON(f.secretsJSON)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out = append(out, scan.Secret{Name: it.origin, Subject: it.origin, Value: it.value})
		}
	}
	return out, nil
}

// loadServerSecrets fetches every secret the client may read, named
// scope/key. Scopes and secrets it may not read are skipped.
func loadServerSecrets(ctx context.Context, c *dbapi.Client) ([]scan.Secret, error) {
	scopes, err := c.ListScopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("load secrets: list scopes: %w", err)
	}
	var out []scan.Secret
	for _, sc := range scopes {
		list, err := c.ListSecrets(ctx, sc.Name)
		if scanDenied(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load secrets: list scope %s: %w", sc.Name, err)
		}
		for _, m := range list {
			v, err := c.GetSecret(ctx, sc.Name, m.Key)
			if scanDenied(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("load secrets: get %s/%s: %w", sc.Name, m.Key, err)
			}
			name := sc.Name + "/" + m.Key
			out = append(out, scan.Secret{Name: name, Subject: "secret " + name, Value: v})
		}
	}
	return out, nil
}

// scanDenied reports an answer that the token may not read the thing (403)
// or that it vanished meanwhile (404): skipped, not fatal.
func scanDenied(err error) bool {
	var ae *dbapi.APIError
	return errors.As(err, &ae) && (ae.StatusCode == 403 || ae.StatusCode == 404)
}

// installScanHook writes the pre-commit hook, carrying the flags that say
// where the values come from.
func installScanHook(ctx context.Context, f *scanFlags, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		exe = "hush"
	}
	var args []string
	if f.secretsJSON != "" {
		abs, err := filepath.Abs(f.secretsJSON)
		if err != nil {
			return usagef("--secrets-json: %v", err)
		}
		args = append(args, "--secrets-json", abs)
	}
	for _, e := range f.envs {
		args = append(args, "--env", e)
	}
	if f.minLength != redact.DefaultMinLength {
		args = append(args, "--min-length", strconv.Itoa(f.minLength))
	}
	if f.profile != "" {
		args = append(args, "--profile", f.profile)
	}
	path, err := scan.InstallHook(ctx, ".", scan.HookScript(exe, args), f.force)
	if errors.Is(err, scan.ErrForeignHook) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s: every commit is scanned with hush scan --staged\n", path)
	return nil
}
