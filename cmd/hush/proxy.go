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

// proxyOptions are the flags of "hush proxy".
type proxyOptions struct {
	upstream, listen, profile, bridgeListen, bridgeFile string
	refresh                                             time.Duration
	minLength                                           int
}

// newProxyCmd builds "hush proxy --upstream URL".
func newProxyCmd() *cobra.Command {
	var o proxyOptions
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
		RunE: func(c *cobra.Command, _ []string) error { return runProxy(c, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.upstream, "upstream", "", "URL of the jupyter_server to protect (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8890", "address to serve the proxy on")
	f.StringVarP(&o.profile, "profile", "p", "", "profile of the config file for the secrets server (default: DATABRICKS_CONFIG_PROFILE or DEFAULT)")
	f.StringVar(&o.bridgeListen, "bridge-listen", "127.0.0.1:0", "loopback address of the kernels' secrets bridge")
	f.StringVar(&o.bridgeFile, "bridge-file", "", "where to write the bridge's address and token (default <user config dir>/hush/bridge.json)")
	f.DurationVar(&o.refresh, "refresh", time.Minute, "how often to look for new or changed secrets (0 disables)")
	f.IntVar(&o.minLength, "min-length", 0, "shortest value to redact (0: the redactor's default)")
	return cmd
}

// runProxy is "hush proxy": it registers every readable secret, serves the
// bridge and writes the bridge file for the kernels, keeps the secrets
// fresh, and serves the redacting proxy until the command's context is done.
func runProxy(c *cobra.Command, o *proxyOptions) error {
	stderr := runner.SyncWriter(c.ErrOrStderr())
	b, px, err := newProxyParts(o, runner.WarnTo(stderr))
	if err != nil {
		return err
	}
	ctx := c.Context()
	st, err := b.LoadAll(ctx)
	if err != nil {
		return err
	}
	bsrv, err := b.Listen(o.bridgeListen)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = bsrv.Close(cctx)
	}()
	if err := pyshim.WriteBridgeFile(o.bridgeFile, pyshim.BridgeInfo{Host: bsrv.URL, Token: b.Token()}); err != nil {
		return err
	}
	defer os.Remove(o.bridgeFile)

	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	rctx, stopRefresh := context.WithCancel(ctx)
	defer stopRefresh()
	go b.RunRefresh(rctx, o.refresh)

	fmt.Fprintf(stderr, "hush proxy: %d secrets of %d scopes registered (%d not readable)\n", st.Secrets, st.Scopes, st.Denied)
	fmt.Fprintf(stderr, "hush proxy: serving http://%s -> %s (bridge %s, bridge file %s)\n", l.Addr(), o.upstream, bsrv.URL, o.bridgeFile)
	return serveProxy(ctx, l, px)
}

// newProxyParts checks the flags, fills in the default bridge file, and
// builds the bridge to the secrets server and the proxy to the upstream,
// both registering into one redactor.
func newProxyParts(o *proxyOptions, warn func(string)) (*bridge.Bridge, *proxy.Proxy, error) {
	if o.upstream == "" {
		return nil, nil, usagef("--upstream is required (the jupyter_server URL, e.g. http://127.0.0.1:8888)")
	}
	host, token, err := resolveUpstream(o.profile)
	if err != nil {
		return nil, nil, err
	}
	if o.bridgeFile == "" {
		if o.bridgeFile, err = pyshim.DefaultBridgeFile(); err != nil {
			return nil, nil, err
		}
	}
	red := newRedactor(o.minLength, redact.AllEncodings())
	b, err := bridge.New(bridge.Options{Upstream: host, Token: token, Redactor: red, Warn: warn})
	if err != nil {
		return nil, nil, err
	}
	px, err := proxy.New(proxy.Options{
		Upstream: o.upstream,
		Redactor: red,
		Logf:     func(f string, a ...any) { warn(fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		return nil, nil, usageError{err}
	}
	return b, px, nil
}

// serveProxy serves px on l until ctx is done, then closes the proxy's
// connections and shuts the server down, waiting up to ten seconds.
func serveProxy(ctx context.Context, l net.Listener, px *proxy.Proxy) error {
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 30 * time.Second}
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
}
