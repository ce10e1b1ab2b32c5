package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/pyshim"
)

// newKernelCmd builds "hush kernel": Jupyter kernelspec management.
func newKernelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Install the hush Python kernel for Jupyter",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	cmd.AddCommand(newKernelInstallCmd())
	return cmd
}

func newKernelInstallCmd() *cobra.Command {
	var (
		name, display, prefix, python, bridgeFile string
		user                                      bool
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Write a Jupyter kernelspec whose kernels have a ready dbutils object",
		Long: `Writes a Jupyter kernelspec (kernel.json plus the hush_dbutils.py shim) that
starts ipykernel with a ready ` + "`dbutils`" + ` object. dbutils.secrets calls go to the
secrets bridge of a running "hush proxy", found through the bridge file the
proxy writes (mode 0600), so every value is registered with the proxy's
redactor before the kernel sees it and never reaches the browser.

By default the kernelspec goes to the user's Jupyter data directory
($JUPYTER_DATA_DIR, else ~/.local/share/jupyter); --prefix DIR installs into
DIR/share/jupyter/kernels instead.`,
		Example: `  hush kernel install --user
  hush kernel install --name hush-py --prefix /opt/conda --python /opt/conda/bin/python`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if user && prefix != "" {
				return usagef("--user and --prefix cannot be used together")
			}
			if bridgeFile == "" {
				var err error
				if bridgeFile, err = pyshim.DefaultBridgeFile(); err != nil {
					return err
				}
			}
			if python == "" {
				var err error
				if python, err = pyshim.FindPython(c.Context(), nil); err != nil {
					return err
				}
			}
			dir, err := pyshim.KernelsDir(prefix)
			if err != nil {
				return err
			}
			path, err := pyshim.Install(dir, pyshim.Spec{Name: name, DisplayName: display, Python: python, BridgeFile: bridgeFile})
			if err != nil {
				return fmt.Errorf("install kernelspec: %w", err)
			}
			fmt.Fprintf(c.OutOrStdout(), "Installed kernelspec %s in %s (python %s, bridge file %s)\n", name, path, python, bridgeFile)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", pyshim.DefaultKernelName, "kernelspec name")
	f.StringVar(&display, "display-name", "", `name shown in notebook UIs (default "Python 3 (hush)")`)
	f.BoolVar(&user, "user", false, "install for the current user (the default)")
	f.StringVar(&prefix, "prefix", "", "install into PREFIX/share/jupyter/kernels")
	f.StringVar(&python, "python", "", "Python interpreter with ipykernel (default: the first of python3, /usr/bin/python3 that has it)")
	f.StringVar(&bridgeFile, "bridge-file", "", "bridge file written by hush proxy (default <user config dir>/hush/bridge.json)")
	return cmd
}
