package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/atomicfile"
	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/files"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
)

const (
	defaultServeAddr  = "127.0.0.1:8300"
	bootstrapFileName = "bootstrap-token"
)

// serveOptions are the flags of hush serve and the HUSH_* values they
// cannot express (see env.go).
type serveOptions struct {
	addr, data, storeURL, filesRoot string
	tlsCert, tlsKey, logFormat      string
	maxScopes, maxSecrets           int
	// masterKey is HUSH_MASTER_KEY, bootstrapToken HUSH_BOOTSTRAP_TOKEN,
	// newMasterKey HUSH_NEW_MASTER_KEY (rotate-master-key only).
	masterKey, bootstrapToken, newMasterKey string
	auditRetention                          string
}

// defaultDataDir is $XDG_DATA_HOME/hush, else ~/.local/share/hush.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "hush")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "hush")
	}
	return "hush-data"
}

// orDefault is v, or def when v is empty.
func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// newServeCmd builds "hush serve" and "hush serve rotate-master-key".
func newServeCmd() *cobra.Command {
	env := readEnv()
	o := serveOptions{masterKey: env.masterKey, bootstrapToken: env.bootstrapToken, newMasterKey: env.newMasterKey}
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8300] [--data DIR] [--store postgres://...]",
		Short: "Run the Databricks-compatible Secrets API server",
		Long: `Runs the hush server: the Databricks Secrets API 2.0, the Token API, token
management and the SCIM users/groups subset, so the Databricks SDKs and CLIs,
hush secrets and plain curl work against it unchanged.

State lives in a bolt file in --data (default), or in PostgreSQL with
--store postgres://... (several replicas may share one database). Values are
encrypted with AES-256-GCM under a data key wrapped by the master key, taken
from HUSH_MASTER_KEY, or else from --data/master.key (created with mode 0600
on first start; keep it elsewhere in production: it sits beside the data).

On the first start with an empty store, hush serve creates the user "admin"
(in the group "admins") and a bootstrap token for it: HUSH_BOOTSTRAP_TOKEN if
set, else a generated one, written to --data/bootstrap-token (mode 0600). A
generated token is printed once when stderr is a terminal; otherwise the log
says where the file is, never the token. HUSH_BOOTSTRAP_TOKEN must be "dapi"
followed by 32 to 64 lower-case hex digits (0-9, a-f), optionally with "-"
and digits at the end, like a Databricks PAT; for example:
dapi$(openssl rand -hex 16).

Unauthenticated endpoints: GET /healthz, GET /metrics (Prometheus text) and
GET /.well-known/databricks-config. Logs (stderr, --log-format text|json)
never contain secret values or tokens. SIGINT/SIGTERM shut down gracefully.

Environment: HUSH_ADDR, HUSH_DATA, HUSH_STORE, HUSH_MASTER_KEY,
HUSH_BOOTSTRAP_TOKEN.`,
		Example: `  hush serve
  export DATABRICKS_HOST=http://127.0.0.1:8300 DATABRICKS_TOKEN=$(cat ~/.local/share/hush/bootstrap-token)
  curl -H "Authorization: Bearer $DATABRICKS_TOKEN" $DATABRICKS_HOST/api/2.0/secrets/scopes/list
  HUSH_STORE=postgres://hush@db/hush HUSH_MASTER_KEY=... hush serve --addr 0.0.0.0:8300 --tls-cert c.pem --tls-key k.pem`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	pf := cmd.PersistentFlags() // rotate-master-key needs them too
	pf.StringVar(&o.data, "data", orDefault(env.data, defaultDataDir()), "data directory: bolt file, master key, bootstrap token ($HUSH_DATA)")
	pf.StringVar(&o.storeURL, "store", env.store, "store: empty for the bolt file in --data, or a postgres:// URL ($HUSH_STORE)")
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", orDefault(env.addr, defaultServeAddr), "address to listen on ($HUSH_ADDR)")
	f.StringVar(&o.filesRoot, "files-root", "", "directory under which admins may create read-only FILES scopes (disabled when empty)")
	f.IntVar(&o.maxScopes, "max-scopes", 1000, "most scopes in the workspace (negative: no limit)")
	f.IntVar(&o.maxSecrets, "max-secrets-per-scope", 1000, "most secrets in one scope (negative: no limit)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS with --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&o.auditRetention, "audit-retention", defaultAuditRetention, "keep audit records this long, then prune them (days such as 365d, or a duration; 0 or forever: keep all); export them first with hush audit export")
	cmd.AddCommand(newRotateMasterKeyCmd(&o))
	return cmd
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, usagef("--log-format must be text or json, got %q", format)
}

// openStore opens the configured store.
func openStore(ctx context.Context, o serveOptions) (store.Store, string, error) {
	switch {
	case o.storeURL == "":
		path := filepath.Join(o.data, bolt.FileName)
		st, err := bolt.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("open store: %w", err)
		}
		return st, "bolt " + path, nil
	case strings.HasPrefix(o.storeURL, "postgres://"), strings.HasPrefix(o.storeURL, "postgresql://"):
		st, err := postgres.Open(ctx, o.storeURL)
		if err != nil {
			return nil, "", fmt.Errorf("open store: %w", err)
		}
		return st, "postgres", nil
	}
	return nil, "", usagef("--store must be empty (bolt in --data) or a postgres:// URL")
}

// runServe runs hush serve until ctx is done: check the options, open the
// store with its sealer, bootstrap an empty store, then serve HTTP(S).
func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	log, err := checkServeOptions(o, stderr)
	if err != nil {
		return err
	}
	retention, err := parseRetention(o.auditRetention)
	if err != nil {
		return err
	}
	ss, err := openSealedStore(ctx, o, log)
	if err != nil {
		return err
	}
	defer ss.st.Close()
	var files server.FilesBackend
	if o.filesRoot != "" {
		if files, err = newFilesBackend(o.filesRoot); err != nil {
			return err
		}
	}
	if err := bootstrapAdmin(ctx, ss.st, o, log, stderr); err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: ss.st, Sealer: ss.sealer, Files: files, Logger: log,
		MaxScopes: o.maxScopes, MaxSecretsPerScope: o.maxSecrets, AuditRetention: retention,
	})
	if err != nil {
		return err
	}
	return serveHTTP(ctx, srv, o, ss, log, stdout)
}

// checkServeOptions rejects flag combinations that cannot work, before
// anything is created, and returns the logger --log-format asks for.
func checkServeOptions(o serveOptions, stderr io.Writer) (*slog.Logger, error) {
	log, err := newLogger(o.logFormat, stderr)
	if err != nil {
		return nil, err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if o.maxScopes == 0 || o.maxSecrets == 0 {
		return nil, usagef("--max-scopes and --max-secrets-per-scope must not be 0 (negative means no limit)")
	}
	return log, nil
}

// masterKeyConfig says where o's master key is: HUSH_MASTER_KEY, else
// --data/master.key.
func masterKeyConfig(o serveOptions) seal.MasterKeyConfig {
	return seal.MasterKeyConfig{Value: o.masterKey, ValueName: envMasterKey, Dir: o.data}
}

// sealedStore is the open store of hush serve and the sealer over it.
type sealedStore struct {
	st     store.Store
	sealer *seal.Sealer
	// where and keySource say where the store and the master key are, for
	// the start-up log line.
	where, keySource string
}

// openSealedStore creates the data directory, loads (or creates) the master
// key, opens the store, finishes an interrupted key rotation, and opens the
// sealer. The caller closes the store.
func openSealedStore(ctx context.Context, o serveOptions, log *slog.Logger) (ss sealedStore, err error) {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return ss, fmt.Errorf("create data directory: %w", err)
	}
	keys := masterKeyConfig(o)
	key, source, warning, err := keys.Load()
	if err != nil {
		return ss, fmt.Errorf("master key: %w", err)
	}
	if warning != "" {
		log.Warn(warning)
	}
	st, where, err := openStore(ctx, o)
	if err != nil {
		return ss, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	promoted, err := keys.Recover(ctx, st)
	if err != nil {
		return ss, err
	}
	if promoted {
		log.Warn("finished an interrupted master key rotation: " + seal.PendingKeyFile + " opens the store and now replaces " + seal.MasterKeyFile)
		if key, _, err = keys.Read(); err != nil {
			return ss, fmt.Errorf("master key: %w", err)
		}
	}
	sealer, err := seal.Open(ctx, st, key)
	if err != nil {
		return ss, fmt.Errorf("open sealer: %w", err)
	}
	return sealedStore{st: st, sealer: sealer, where: where, keySource: source}, nil
}

// bootstrapAdmin creates the admin and its token in an empty store, saves
// the token in --data/bootstrap-token (mode 0600) and prints it once.
func bootstrapAdmin(ctx context.Context, st store.Store, o serveOptions, log *slog.Logger, stderr io.Writer) error {
	boot, err := server.Bootstrap(ctx, st, o.bootstrapToken, time.Now())
	if err != nil {
		return err
	}
	if !boot.Created {
		if o.bootstrapToken != "" {
			log.Warn(envBootstrapToken + " is set but the store is already bootstrapped; it is ignored (unset it)")
		}
		return nil
	}
	path := filepath.Join(o.data, bootstrapFileName)
	if err := atomicfile.Write(path, []byte(boot.Token+"\n"), 0o600); err != nil {
		return fmt.Errorf("save the bootstrap token: %w", err)
	}
	announceBootstrap(log, stderr, path, boot.Token, o.bootstrapToken == "")
	return nil
}

// serveHTTP listens on --addr and serves srv (HTTPS with --tls-cert) until
// ctx is done, then shuts down gracefully and flushes the audit log.
func serveHTTP(ctx context.Context, srv *server.Server, o serveOptions, ss sealedStore, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("hush serve started", "url", scheme+"://"+ln.Addr().String(), "store", ss.where, "master_key", ss.keySource)
	fmt.Fprintf(stdout, "hush serve listening on %s://%s\n", scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		_ = srv.Close(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "error", err.Error())
	}
	if err := srv.Close(sctx); err != nil {
		log.Warn("flush audit log", "error", err.Error())
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func newRotateMasterKeyCmd(o *serveOptions) *cobra.Command {
	var newKeyFile string
	cmd := &cobra.Command{
		Use:   "rotate-master-key --new-key-file FILE",
		Short: "Re-wrap the data key under a new master key",
		Long: `Re-encrypts the stored data key from the current master key (HUSH_MASTER_KEY,
or --data/master.key) to a new one, read from --new-key-file or from
HUSH_NEW_MASTER_KEY (64 hex digits or base64 of 32 bytes). Secret values are
not touched. Stop every hush serve on the store first; afterwards start them
with the new key. When the current key came from --data/master.key, that
file is replaced by the new key, crash-safely: the new key is first written
to master.key.new, and if the command is cut short, the next hush serve (or
rotate-master-key) keeps whichever of the two files opens the store.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRotate(c.Context(), *o, newKeyFile, c.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new master key ($HUSH_NEW_MASTER_KEY)")
	return cmd
}

// runRotate re-wraps the data key under the new master key from
// newKeyFile or HUSH_NEW_MASTER_KEY (see seal.MasterKeyConfig.Rotate for
// the crash-safe steps). It fails before opening, or creating, the store
// when there is no current key.
func runRotate(ctx context.Context, o serveOptions, newKeyFile string, stdout io.Writer) error {
	var text string
	switch {
	case newKeyFile != "":
		b, err := os.ReadFile(newKeyFile)
		if err != nil {
			return fmt.Errorf("read new master key: %w", err)
		}
		text = string(b)
	case o.newMasterKey != "":
		text = o.newMasterKey
	default:
		return usagef("give the new master key with --new-key-file FILE or %s", envNewMasterKey)
	}
	newKey, err := seal.ParseMasterKey(text)
	if err != nil {
		return fmt.Errorf("new master key: %w", err)
	}
	keys := masterKeyConfig(o)
	if err := keys.CheckRotation(); err != nil {
		return err
	}
	st, _, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	rot, err := keys.Rotate(ctx, st, newKey)
	if err != nil {
		return err
	}
	if rot.KeyFile == "" {
		fmt.Fprintf(stdout, "Master key rotated (the old key came from %s). Start hush serve with %s set to the new key.\n", rot.OldSource, envMasterKey)
		return nil
	}
	fmt.Fprintf(stdout, "Master key rotated; %s now holds the new key.\n", rot.KeyFile)
	return nil
}

// newFilesBackend serves FILES scopes from the directory root.
func newFilesBackend(root string) (server.FilesBackend, error) {
	b, err := files.NewBackend(root)
	if err != nil {
		return nil, usagef("--files-root: %v", err)
	}
	return b, nil
}
