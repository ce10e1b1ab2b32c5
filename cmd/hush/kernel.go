package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/kernelwrap"
	"github.com/hush-secrets/hush/internal/pyshim"
	"github.com/hush-secrets/hush/internal/runner"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newKernelCmd builds "hush kernel": the kernel wrapper and kernelspecs.
func newKernelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Run Jupyter kernels with every output redacted, and install their kernelspecs",
		Long: `hush kernel puts the redactor where notebook output is born: "hush kernel run"
wraps any Jupyter kernel, so every frontend (Notebook, Lab, VS Code,
nbconvert, papermill, console) receives [REDACTED] in place of a secret, and
gives the kernel a secrets bridge of its own. "hush kernel install" writes
kernelspecs that run their kernel this way; "hush kernel list" shows them.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	cmd.AddCommand(newKernelRunCmd(), newKernelInstallCmd(), newKernelListCmd())
	return cmd
}

func newKernelRunCmd() *cobra.Command {
	var (
		connFile, profile, bridgeFile string
		noPreload                     bool
		refresh                       time.Duration
		minLength                     int
	)
	cmd := &cobra.Command{
		Use:   "run --connection-file PATH -- KERNEL-ARGV...",
		Short: "Run a Jupyter kernel behind the redactor (used in kernelspecs)",
		Long: `Runs the kernel KERNEL-ARGV as a Jupyter kernel would be run, but behind hush:
it binds the sockets of the frontend's connection file (--connection-file)
itself, writes a second connection file for the inner kernel (loopback, fresh
key, mode 0600; every {connection_file} in KERNEL-ARGV becomes its path),
and relays every message, redacting all the kernel sends. Messages that fail
their signature check are dropped.

The inner kernel gets DATABRICKS_HOST and DATABRICKS_TOKEN of a loopback
secrets bridge that registers every value before handing it out (other
DATABRICKS_* variables are removed). The bridge uses your hush profile
("hush configure", DATABRICKS_HOST/TOKEN, DATABRICKS_CONFIG_PROFILE,
DATABRICKS_CONFIG_FILE); without one it uses the bridge of a running
"hush proxy" (--bridge-file, $HUSH_BRIDGE_FILE or the default bridge file),
and without either the kernel runs redacted but without secrets. Every
secret the profile can read is registered before the kernel starts
(--no-preload disables) and every --refresh after.

SIGINT is passed to the kernel (an interrupt); the wrapper exits with the
kernel's exit status, and the kernel never outlives the wrapper. Log lines go
to stderr and never contain a value or a key.`,
		Example: `  # kernel.json argv of a wrapped kernel:
  hush kernel run --connection-file {connection_file} -- python3 -m ipykernel_launcher -f {connection_file}`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if connFile == "" {
				return usagef("--connection-file is required (the kernelspec's {connection_file})")
			}
			stderr := runner.SyncWriter(c.ErrOrStderr())
			logf := func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
			red := newRedactor(minLength, redact.AllEncodings())
			b := kernelBridge(profile, bridgeFile, red, logf)
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer signal.Stop(sigs)
			code, err := kernelwrap.Run(context.WithoutCancel(c.Context()), kernelwrap.Options{
				ConnectionFile: connFile,
				Argv:           args,
				Env:            os.Environ(),
				Redactor:       red,
				Bridge:         b,
				Preload:        !noPreload,
				Refresh:        refresh,
				Signals:        sigs,
				Stdout:         c.OutOrStdout(),
				Stderr:         stderr,
				Logf:           logf,
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCodeError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&connFile, "connection-file", "", "the frontend's connection file (required; {connection_file} in a kernelspec)")
	f.StringVarP(&profile, "profile", "p", "", "profile of the config file for the secrets server (default: DATABRICKS_CONFIG_PROFILE or DEFAULT)")
	f.StringVar(&bridgeFile, "bridge-file", "", "bridge file of a running hush proxy, used when there is no profile (default $HUSH_BRIDGE_FILE, else <user config dir>/hush/bridge.json if it exists)")
	f.BoolVar(&noPreload, "no-preload", false, "do not register every readable secret before the kernel starts")
	f.DurationVar(&refresh, "refresh", time.Minute, "how often to look for new or changed secrets (0 disables)")
	f.IntVar(&minLength, "min-length", 0, "shortest value to redact (0: the redactor's default)")
	f.SetInterspersed(false)
	return cmd
}

// kernelBridge returns the secrets bridge of one wrapped kernel: upstream is
// the hush profile, else a running hush proxy's bridge (from its bridge
// file), else nil (the kernel runs redacted, without secrets).
func kernelBridge(profile, bridgeFile string, red *redact.Redactor, logf func(string, ...any)) *bridge.Bridge {
	warn := func(msg string) { logf("%s", msg) }
	cfg, err := dbapi.ResolveConfig(dbapi.ConfigOptions{Profile: profile})
	if err == nil {
		b, berr := bridge.New(bridge.Options{Upstream: cfg.Host, Token: cfg.Token, Redactor: red, Warn: warn})
		if berr == nil {
			return b
		}
		err = berr
	}
	if !errors.Is(err, dbapi.ErrNoHost) {
		logf("hush kernel: warning: no secrets for this kernel (dbutils calls will fail): the hush profile is not usable: %v", err)
		return nil
	}
	path, explicit := bridgeFile, bridgeFile != ""
	if !explicit {
		path, explicit = os.Getenv("HUSH_BRIDGE_FILE"), os.Getenv("HUSH_BRIDGE_FILE") != ""
	}
	if !explicit {
		if path, err = pyshim.DefaultBridgeFile(); err != nil {
			path = ""
		}
	}
	info, rerr := readBridgeFile(path)
	if rerr != nil {
		if explicit || !errors.Is(rerr, os.ErrNotExist) {
			logf("hush kernel: warning: no secrets for this kernel (dbutils calls will fail): no hush profile, and %v", rerr)
		} else {
			logf("hush kernel: warning: no secrets for this kernel (dbutils calls will fail): no hush profile (run \"hush configure\") and no running hush proxy")
		}
		return nil
	}
	b, err := bridge.New(bridge.Options{Upstream: info.Host, Token: info.Token, Redactor: red, Warn: warn})
	if err != nil {
		logf("hush kernel: warning: no secrets for this kernel: bridge file %s: %v", path, err)
		return nil
	}
	logf("hush kernel: no hush profile; using the secrets bridge of the hush proxy in %s", path)
	return b
}

// readBridgeFile reads the address and token a hush proxy wrote to path.
func readBridgeFile(path string) (pyshim.BridgeInfo, error) {
	var info pyshim.BridgeInfo
	if path == "" {
		return info, fmt.Errorf("no bridge file: %w", os.ErrNotExist)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("read the bridge file: %w", err)
	}
	if err := json.Unmarshal(raw, &info); err != nil || info.Host == "" {
		return info, fmt.Errorf("bridge file %s is not a hush proxy bridge file", path)
	}
	return info, nil
}

func newKernelInstallCmd() *cobra.Command {
	var (
		name, display, prefix, python, bridgeFile, wrap, hush string
		user                                                  bool
	)
	cmd := &cobra.Command{
		Use:   "install [--wrap NAME] [--name N] [--user | --prefix DIR]",
		Short: "Write a Jupyter kernelspec whose kernel runs behind hush",
		Long: `Writes a Jupyter kernelspec whose kernel runs under "hush kernel run": every
message the kernel sends is redacted before any frontend sees it, and the
kernel gets its own secrets bridge (see "hush kernel run --help"). No proxy
is needed; "hush proxy" in front of jupyter_server still adds redaction of
what leaves over HTTP.

Without --wrap it writes the "Python 3 (hush)" kernel (name hush-python3):
ipykernel of --python with hush's dbutils shim imported, so
dbutils.secrets.get(scope=..., key=...) works as in a Databricks notebook.

--wrap NAME wraps an installed kernelspec (found where Jupyter looks:
$JUPYTER_PATH, the user data directory, /usr/local/share/jupyter,
/usr/share/jupyter) into "hush-NAME", keeping its language, env, metadata,
interrupt mode and logos, with " (hush)" added to its display name.

The kernelspec goes to the user's Jupyter data directory ($JUPYTER_DATA_DIR,
else ~/.local/share/jupyter), or to DIR/share/jupyter/kernels with --prefix.
kernel.json names the hush binary by its absolute path (--hush overrides it).`,
		Example: `  hush kernel install
  hush kernel install --wrap ir
  hush kernel install --name hush-py --prefix /opt/conda --python /opt/conda/bin/python`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if user && prefix != "" {
				return usagef("--user and --prefix cannot be used together")
			}
			hushPath, err := hushBinary(hush)
			if err != nil {
				return err
			}
			dir, err := pyshim.KernelsDir(prefix)
			if err != nil {
				return err
			}
			if wrap != "" {
				if python != "" {
					return usagef("--python applies to the default kernel, not to --wrap")
				}
				return installWrapped(c.OutOrStdout(), dir, name, wrap, hushPath, display, bridgeFile)
			}
			if name == "" {
				name = pyshim.DefaultKernelName
			}
			if python == "" {
				if python, err = pyshim.FindPython(c.Context(), nil); err != nil {
					return err
				}
			}
			path, err := pyshim.Install(dir, pyshim.Spec{Name: name, DisplayName: display, Python: python, Hush: hushPath, BridgeFile: bridgeFile})
			if err != nil {
				return fmt.Errorf("install kernelspec: %w", err)
			}
			fmt.Fprintf(c.OutOrStdout(), "Installed kernelspec %s in %s (python %s, under %s kernel run)\n", name, path, python, hushPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", `kernelspec name (default "hush-python3", or "hush-NAME" with --wrap)`)
	f.StringVar(&display, "display-name", "", `name shown in notebook UIs (default "Python 3 (hush)", or NAME's display name + " (hush)")`)
	f.StringVar(&wrap, "wrap", "", "wrap the installed kernelspec NAME (e.g. ir, python3) instead of writing the Python kernel")
	f.BoolVar(&user, "user", false, "install for the current user (the default)")
	f.StringVar(&prefix, "prefix", "", "install into PREFIX/share/jupyter/kernels")
	f.StringVar(&python, "python", "", "Python interpreter with ipykernel (default: the first of python3, /usr/bin/python3 that has it)")
	f.StringVar(&hush, "hush", "", "hush binary to name in kernel.json (default: this one)")
	f.StringVar(&bridgeFile, "bridge-file", "", "bridge file of a hush proxy for the kernel to use when it has no hush profile")
	return cmd
}

// hushBinary returns the absolute path of the hush binary to write into
// kernelspecs: override if given, else the running executable.
func hushBinary(override string) (string, error) {
	p := override
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the hush binary (pass --hush): %w", err)
		}
		p = exe
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("hush binary %s: %w", p, err)
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", usagef("--hush %s is not an executable file", p)
	}
	return abs, nil
}

// installWrapped writes hush-<inner> (or name) wrapping the kernelspec
// inner, with display and bridgeFile (HUSH_BRIDGE_FILE in its env) when set.
func installWrapped(out io.Writer, kernelsDir, name, inner, hushPath, display, bridgeFile string) error {
	spec, err := kernelwrap.FindSpec(kernelwrap.SearchPath(os.Getenv), inner)
	if err != nil {
		return err
	}
	if name == "" {
		name = "hush-" + inner
	}
	dir, err := kernelwrap.WriteWrapped(kernelsDir, name, hushPath, spec)
	if err != nil {
		return fmt.Errorf("install kernelspec: %w", err)
	}
	if display != "" || bridgeFile != "" {
		s, err := kernelwrap.ReadSpec(dir)
		if err != nil {
			return err
		}
		if display != "" {
			s.JSON["display_name"] = display
		}
		if bridgeFile != "" {
			env, _ := s.JSON["env"].(map[string]any)
			if env == nil {
				env = map[string]any{}
			}
			env["HUSH_BRIDGE_FILE"] = bridgeFile
			s.JSON["env"] = env
		}
		doc, _ := json.MarshalIndent(s.JSON, "", " ")
		if err := os.WriteFile(filepath.Join(dir, "kernel.json"), append(doc, '\n'), 0o644); err != nil {
			return fmt.Errorf("write kernel.json: %w", err)
		}
	}
	fmt.Fprintf(out, "Installed kernelspec %s in %s (wraps %s from %s)\n", name, dir, inner, spec.Dir)
	return nil
}

func newKernelListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the kernelspecs Jupyter finds and which run behind hush",
		Long: `Lists the kernelspecs Jupyter would find ($JUPYTER_PATH, the user data
directory, /usr/local/share/jupyter, /usr/share/jupyter; the first of a name
wins), their directories, and which run under "hush kernel run" (and which
kernelspec they wrap). Kernels not marked hush send their output unredacted.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			specs := kernelwrap.FindSpecs(kernelwrap.SearchPath(os.Getenv))
			if asJSON {
				return listSpecsJSON(c.OutOrStdout(), specs)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tHUSH\tDISPLAY NAME\tDIRECTORY")
			for _, s := range specs {
				status := "no"
				if inner, wrapped := s.Wrapped(); wrapped {
					status = "yes"
					if inner != "" {
						status = "wraps " + inner
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, status, s.DisplayName(), s.Dir)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {name: {resource_dir, display_name, hush, wraps}}")
	return cmd
}

func listSpecsJSON(out io.Writer, specs []kernelwrap.KernelSpec) error {
	type entry struct {
		ResourceDir string `json:"resource_dir"`
		DisplayName string `json:"display_name"`
		Hush        bool   `json:"hush"`
		Wraps       string `json:"wraps,omitempty"`
	}
	doc := make(map[string]entry, len(specs))
	for _, s := range specs {
		inner, wrapped := s.Wrapped()
		doc[s.Name] = entry{ResourceDir: s.Dir, DisplayName: s.DisplayName(), Hush: wrapped, Wraps: inner}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
