package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/proxy"
	"github.com/hush-secrets/hush/internal/pyshim"
	"github.com/hush-secrets/hush/internal/runner"
	"github.com/hush-secrets/hush/redact"
)

// newProxyCmd builds "hush proxy --upstream URL".
func newProxyCmd() *cobra.Command {
	var (
		upstream, listen, profile, bridgeListen, bridgeFile string
		refresh                                             time.Duration
		minLength                                           int
	)
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL [--listen ADDR]",
		Short: "Serve Jupyter through a redacting proxy with a secrets bridge for its kernels",
		Long: `Serves an unmodified jupyter_server (--upstream) on --listen with every output
redacted: kernel messages over both websocket wire formats, notebook and file
contents, nbconvert output and terminals. No registered secret value reaches
the browser or a notebook saved through the proxy.

Kernels of the hush kernelspec ("hush kernel install") fetch secrets through
the proxy's bridge, which registers each value before the kernel sees it. At
start every secret readable with the configured profile is registered too,
and the list is refreshed every --refresh. The bridge's address and token are
written to --bridge-file (mode 0600) for the kernels to find.`,
		Example: `  hush kernel install --user
  jupyter server --no-browser --port 8888 &
  hush proxy --upstream http://127.0.0.1:8888 --listen 127.0.0.1:8890`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if upstream == "" {
				return usagef("--upstream is required (the jupyter_server URL, e.g. http://127.0.0.1:8888)")
			}
			host, token, err := resolveUpstream(profile)
			if err != nil {
				return err
			}
			if bridgeFile == "" {
				if bridgeFile, err = pyshim.DefaultBridgeFile(); err != nil {
					return err
				}
			}
			stderr := runner.SyncWriter(c.ErrOrStderr())
			warn := runner.WarnTo(stderr)
			red := newRedactor(minLength, redact.AllEncodings())
			b, err := bridge.New(bridge.Options{Upstream: host, Token: token, Redactor: red, Warn: warn})
			if err != nil {
				return err
			}
			px, err := proxy.New(proxy.Options{
				Upstream: upstream,
				Redactor: red,
				Logf:     func(f string, a ...any) { warn(fmt.Sprintf(f, a...)) },
			})
			if err != nil {
				return usageError{err}
			}
			ctx := c.Context()
			st, err := b.LoadAll(ctx)
			if err != nil {
				return err
			}
			bsrv, err := b.Listen(bridgeListen)
			if err != nil {
				return err
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = bsrv.Close(cctx)
			}()
			if err := pyshim.WriteBridgeFile(bridgeFile, pyshim.BridgeInfo{Host: bsrv.URL, Token: b.Token()}); err != nil {
				return err
			}
			defer os.Remove(bridgeFile)

			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			srv := &http.Server{Handler: px, ReadHeaderTimeout: 30 * time.Second}
			rctx, stopRefresh := context.WithCancel(ctx)
			defer stopRefresh()
			go b.RunRefresh(rctx, refresh)

			fmt.Fprintf(stderr, "hush proxy: %d secrets of %d scopes registered (%d not readable)\n", st.Secrets, st.Scopes, st.Denied)
			fmt.Fprintf(stderr, "hush proxy: serving http://%s -> %s (bridge %s, bridge file %s)\n", l.Addr(), upstream, bsrv.URL, bridgeFile)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(l) }()
			select {
			case err := <-errc:
				return fmt.Errorf("serve: %w", err)
			case <-ctx.Done():
			}
			px.Close()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("shut down: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&upstream, "upstream", "", "URL of the jupyter_server to protect (required)")
	f.StringVar(&listen, "listen", "127.0.0.1:8890", "address to serve the proxy on")
	f.StringVarP(&profile, "profile", "p", "", "profile of the config file for the secrets server (default: DATABRICKS_CONFIG_PROFILE or DEFAULT)")
	f.StringVar(&bridgeListen, "bridge-listen", "127.0.0.1:0", "loopback address of the kernels' secrets bridge")
	f.StringVar(&bridgeFile, "bridge-file", "", "where to write the bridge's address and token (default <user config dir>/hush/bridge.json)")
	f.DurationVar(&refresh, "refresh", time.Minute, "how often to look for new or changed secrets (0 disables)")
	f.IntVar(&minLength, "min-length", 0, "shortest value to redact (0: the redactor's default)")
	return cmd
}
