package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK    = 0
	exitError = 1 // the operation failed: an API error, an I/O error
	exitUsage = 2 // the command line was wrong
)

// usageError marks an error as the caller's mistake on the command line, so
// the command exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCodeError lets a command choose its exit code (hush run passes its
// child's through) without printing anything more.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// newRootCmd builds the command tree. Each subcommand lives in its own file
// as newXxxCmd.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hush",
		Short: "Self-hosted, Databricks-compatible secrets for notebooks, with output redaction",
		Long: `hush keeps credentials in secret scopes on a server that speaks the Databricks
Secrets API 2.0, hands them to notebook code through dbutils.secrets, and
replaces every fetched value in cell output with [REDACTED].`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(
		// Subcommands register here, one line each.
		newKernelCmd(),
		newRunCmd(),
		newProxyCmd(),
		newSecretsCmd(),
		newConfigureCmd(),
		newServeCmd(),
		newTokensCmd(),
		newUsersCmd(),
		newGroupsCmd(),
		newAuditCmd(),
		newRedactCmd(),
		newScanCmd(),
	)
	return root
}

// run executes the command line args with the given streams and returns the
// process exit code. Errors are printed to stderr once, here.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ce exitCodeError
	if errors.As(err, &ce) {
		return ce.code
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises the argument errors cobra itself returns (unknown
// command, wrong number of arguments), which carry no type of their own.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "requires exactly", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
