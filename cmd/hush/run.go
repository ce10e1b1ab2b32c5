package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/runner"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newRunCmd builds "hush run -- CMD ARGS…".
func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--profile P] -- CMD [ARGS…]",
		Short: "Run a command with its output redacted and a loopback secrets bridge",
		Long: `Runs CMD with its stdout and stderr passed through the redactor, so every
secret value it fetches (or that your profile can read) is printed as
[REDACTED]. CMD gets DATABRICKS_HOST and DATABRICKS_TOKEN of a loopback
bridge that serves the read endpoints of the Secrets API with your own
permissions and registers every value before returning it, so a Databricks
SDK inside CMD works unchanged. Python scripts also find hush's dbutils shim
on PYTHONPATH: "from hush_dbutils import dbutils", then
dbutils.secrets.get(scope=..., key=...) as in a Databricks notebook.

Before CMD starts, every secret your profile can read is loaded and
registered (disable with --no-preload). CMD's exit code is hush run's exit
code; SIGINT, SIGTERM and SIGHUP are forwarded to it.

When hush's stdin or stdout is a terminal, CMD runs on a pseudo-terminal
that hush owns: CMD sees a terminal (colours, progress bars, its window
size and changes to it, Ctrl-C and Ctrl-Z), your terminal is in raw mode
while CMD runs and restored after, and everything CMD shows there, what
it writes to /dev/tty (password prompts) included, is redacted, colour
codes inside a value or not. --no-pty gives CMD plain pipes instead. When
stdout and stderr are the same file (2>&1), they are redacted as one
stream, so a value split between them is still caught.`,
		Example: `  hush run -- python3 etl.py
  hush run --profile prod -- sh -c 'databricks secrets get-secret app db'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runRun(c, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.profile, "profile", "p", "", "profile of the config file to use (default: DATABRICKS_CONFIG_PROFILE or DEFAULT)")
	f.BoolVar(&o.noPreload, "no-preload", false, "do not register every readable secret before starting CMD")
	f.BoolVar(&o.noPTY, "no-pty", false, "give CMD pipes even when hush runs at a terminal")
	f.IntVar(&o.minLength, "min-length", 0, "shortest value to redact (0: the redactor's default)")
	f.SetInterspersed(false)
	return cmd
}

// runOptions are the flags of hush run.
type runOptions struct {
	profile          string
	noPreload, noPTY bool
	minLength        int
}

// runRun runs args under the redactor with a loopback secrets bridge of
// the profile's server, forwarding signals and window-size changes, and
// turns the child's exit code into hush run's.
func runRun(c *cobra.Command, o runOptions, args []string) error {
	host, token, err := resolveUpstream(o.profile)
	if err != nil {
		return err
	}
	stderr := runner.SyncWriter(c.ErrOrStderr())
	red := newRedactor(o.minLength, redact.AllEncodings())
	b, err := bridge.New(bridge.Options{Upstream: host, Token: token, Redactor: red, Warn: runner.WarnTo(stderr)})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	// The child decides how to react to signals; hush only forwards
	// them and waits, so the root context's cancellation is ignored.
	code, err := runner.Run(context.WithoutCancel(c.Context()), runner.Options{
		Args:     args,
		Env:      os.Environ(),
		Stdin:    c.InOrStdin(),
		Stdout:   c.OutOrStdout(),
		Stderr:   stderr,
		Redactor: red,
		Bridge:   b,
		Preload:  !o.noPreload,
		Signals:  sigs,
		PTY:      !o.noPTY,
		Resize:   winch,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCodeError{code}
	}
	return nil
}

// resolveUpstream finds the server and token hush run and hush proxy
// forward to, like the Databricks SDK: DATABRICKS_HOST/DATABRICKS_TOKEN,
// else the profile of the config file.
func resolveUpstream(profile string) (host, token string, err error) {
	cfg, err := dbapi.ResolveConfig(dbapi.ConfigOptions{Profile: profile})
	if err != nil {
		return "", "", fmt.Errorf("find the secrets server: %w", err)
	}
	return cfg.Host, cfg.Token, nil
}
