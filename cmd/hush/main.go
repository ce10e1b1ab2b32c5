// Command hush is the one binary of hush: the Secrets API server (serve),
// the Databricks-compatible CLI (secrets, configure, tokens, users, groups,
// audit), the redacting wrappers (run, redact, proxy) and the Jupyter kernel
// installer. Run "hush --help" for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
