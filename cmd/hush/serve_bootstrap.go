package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/hush-secrets/hush/internal/server"
)

// announceBootstrap tells the operator about the bootstrap token just
// created and saved in path. stderr is often a log stream (systemd,
// docker logs, a log shipper), so the token itself is printed only when
// hush generated it (generated) and stderr is a terminal, where a person
// reads it once; otherwise the log says where the file is, never the token.
func announceBootstrap(log *slog.Logger, stderr io.Writer, path, token string, generated bool) {
	if generated && isTerminal(stderr) {
		fmt.Fprintf(stderr, "Created user %q (admin) with a bootstrap token, saved in %s:\n\n    %s\n\n", server.BootstrapUserName, path, token)
		return
	}
	how := "generated"
	if !generated {
		how = "from " + envBootstrapToken
	}
	log.Info("created the admin user with a bootstrap token ("+how+"); read it from the file",
		"user", server.BootstrapUserName, "file", path)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, ok = terminalFd(f)
	return ok
}
