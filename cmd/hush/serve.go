package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/files"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
)

// Environment variables of hush serve (flags win over them).
const (
	envAddr           = "HUSH_ADDR"
	envData           = "HUSH_DATA"
	envStore          = "HUSH_STORE"
	envBootstrapToken = "HUSH_BOOTSTRAP_TOKEN"
	envNewMasterKey   = "HUSH_NEW_MASTER_KEY"
	defaultServeAddr  = "127.0.0.1:8300"
	bootstrapFileName = "bootstrap-token"
)

// serveOptions are the flags of hush serve.
type serveOptions struct {
	addr, data, storeURL, filesRoot string
	tlsCert, tlsKey, logFormat      string
	maxScopes, maxSecrets           int
	auditRetention                  string
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

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newServeCmd builds "hush serve" and "hush serve rotate-master-key".
func newServeCmd() *cobra.Command {
	var o serveOptions
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
	pf.StringVar(&o.data, "data", envOr(envData, defaultDataDir()), "data directory: bolt file, master key, bootstrap token ($HUSH_DATA)")
	pf.StringVar(&o.storeURL, "store", os.Getenv(envStore), "store: empty for the bolt file in --data, or a postgres:// URL ($HUSH_STORE)")
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", envOr(envAddr, defaultServeAddr), "address to listen on ($HUSH_ADDR)")
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

func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	log, err := newLogger(o.logFormat, stderr)
	if err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	retention, err := parseRetention(o.auditRetention)
	if err != nil {
		return err
	}
	if o.maxScopes == 0 || o.maxSecrets == 0 {
		return usagef("--max-scopes and --max-secrets-per-scope must not be 0 (negative means no limit)")
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	key, source, warning, err := seal.LoadMasterKey(os.Getenv(seal.MasterKeyEnv), o.data)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if warning != "" {
		log.Warn(warning)
	}
	st, where, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	if os.Getenv(seal.MasterKeyEnv) == "" {
		promoted, err := recoverPendingKey(ctx, st, o.data)
		if err != nil {
			return err
		}
		if promoted {
			log.Warn("finished an interrupted master key rotation: " + seal.MasterKeyFile + pendingKeySuffix + " opens the store and now replaces " + seal.MasterKeyFile)
			if key, _, err = seal.ReadMasterKey("", o.data); err != nil {
				return fmt.Errorf("master key: %w", err)
			}
		}
	}
	sealer, err := seal.Open(ctx, st, key)
	if err != nil {
		return fmt.Errorf("open sealer: %w", err)
	}
	var files server.FilesBackend
	if o.filesRoot != "" {
		if files, err = newFilesBackend(o.filesRoot); err != nil {
			return err
		}
	}
	boot, err := server.Bootstrap(ctx, st, os.Getenv(envBootstrapToken), time.Now())
	if err != nil {
		return err
	}
	if !boot.Created && os.Getenv(envBootstrapToken) != "" {
		log.Warn(envBootstrapToken + " is set but the store is already bootstrapped; it is ignored (unset it)")
	}
	if boot.Created {
		path := filepath.Join(o.data, bootstrapFileName)
		if err := writeSecretFile(path, boot.Token+"\n"); err != nil {
			return err
		}
		announceBootstrap(log, stderr, path, boot.Token, os.Getenv(envBootstrapToken) == "")
	}
	srv, err := server.New(server.Config{
		Store: st, Sealer: sealer, Files: files, Logger: log,
		MaxScopes: o.maxScopes, MaxSecretsPerScope: o.maxSecrets, AuditRetention: retention,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("hush serve started", "url", scheme+"://"+ln.Addr().String(), "store", where, "master_key", source)
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

// writeSecretFile writes content to path with mode 0600, replacing it.
func writeSecretFile(path, content string) error {
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
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

// pendingKeySuffix names the file (master.key.new) that holds the new key
// while rotate-master-key re-wraps the data key.
const pendingKeySuffix = ".new"

// runRotate re-wraps the data key under a new master key. When the current
// key is the key file, the steps are ordered so that a crash at any point
// leaves a key on disk that opens the store:
//
//  1. the new key is written, fsynced, to master.key.new (master.key, the
//     old key, still opens the store);
//  2. the data key is re-wrapped in the store, one durable write (now
//     master.key.new opens the store, master.key does not);
//  3. master.key.new is renamed over master.key, atomically.
//
// A crash between 1 and 2 leaves a stale master.key.new, between 2 and 3
// a master.key that no longer fits. Both are settled by recoverPendingKey,
// which hush serve and this command run before loading the key: it keeps
// whichever of the two files opens the store.
func runRotate(ctx context.Context, o serveOptions, newKeyFile string, stdout io.Writer) error {
	var text string
	switch {
	case newKeyFile != "":
		b, err := os.ReadFile(newKeyFile)
		if err != nil {
			return fmt.Errorf("read new master key: %w", err)
		}
		text = string(b)
	case os.Getenv(envNewMasterKey) != "":
		text = os.Getenv(envNewMasterKey)
	default:
		return usagef("give the new master key with --new-key-file FILE or %s", envNewMasterKey)
	}
	newKey, err := seal.ParseMasterKey(text)
	if err != nil {
		return fmt.Errorf("new master key: %w", err)
	}
	envKey := os.Getenv(seal.MasterKeyEnv)
	keyPath := filepath.Join(o.data, seal.MasterKeyFile)
	pending := keyPath + pendingKeySuffix
	// Never create a key here (that would be a key nothing is wrapped
	// with), and fail before opening (or creating) the store; only a
	// pending key file left by an interrupted rotation defers the check
	// until recoverPendingKey has settled it.
	_, pendingErr := os.Stat(pending)
	if envKey != "" || pendingErr != nil {
		if _, _, err := seal.ReadMasterKey(envKey, o.data); err != nil {
			return fmt.Errorf("current master key (nothing was changed): %w", err)
		}
	}
	st, _, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	if envKey == "" {
		if _, err := recoverPendingKey(ctx, st, o.data); err != nil {
			return err
		}
	}
	oldKey, source, err := seal.ReadMasterKey(envKey, o.data)
	if err != nil {
		return fmt.Errorf("current master key (nothing was changed): %w", err)
	}
	if envKey != "" {
		if err := seal.Rewrap(ctx, st, oldKey, newKey); err != nil {
			return fmt.Errorf("rotate master key: %w", err)
		}
		fmt.Fprintf(stdout, "Master key rotated (the old key came from %s). Start hush serve with %s set to the new key.\n", source, seal.MasterKeyEnv)
		return nil
	}
	if err := seal.WriteMasterKeyFile(pending, newKey); err != nil {
		return fmt.Errorf("rotate master key (nothing was changed): %w", err)
	}
	if err := seal.Rewrap(ctx, st, oldKey, newKey); err != nil {
		_ = os.Remove(pending)
		return fmt.Errorf("rotate master key (nothing was changed): %w", err)
	}
	if err := promotePendingKey(pending, keyPath); err != nil {
		return fmt.Errorf("the data key is now wrapped by the new key, kept in %s, but it could not replace %s (hush serve retries this at start): %w", pending, keyPath, err)
	}
	fmt.Fprintf(stdout, "Master key rotated; %s now holds the new key.\n", keyPath)
	return nil
}

// recoverPendingKey settles a rotation of the key file that was cut short
// (see runRotate): if dataDir/master.key.new exists, it is renamed over
// master.key when it, and not master.key, opens the store (promoted is
// true then), and removed when master.key still opens the store. With no
// pending file, or no data key in the store yet, it does nothing.
func recoverPendingKey(ctx context.Context, st store.Store, dataDir string) (promoted bool, err error) {
	keyPath := filepath.Join(dataDir, seal.MasterKeyFile)
	pending := keyPath + pendingKeySuffix
	text, err := os.ReadFile(pending)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	if _, err := st.GetMeta(ctx, seal.DataKeyName); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	opens := func(key []byte) (bool, error) {
		_, err := seal.Open(ctx, st, key)
		if errors.Is(err, seal.ErrWrongMasterKey) {
			return false, nil
		}
		return err == nil, err
	}
	if cur, _, err := seal.ReadMasterKey("", dataDir); err == nil {
		ok, err := opens(cur)
		if err != nil {
			return false, fmt.Errorf("interrupted master key rotation: %w", err)
		}
		if ok { // cut short before the re-wrap: the new key was never used
			if err := os.Remove(pending); err != nil {
				return false, fmt.Errorf("interrupted master key rotation: remove %s: %w", pending, err)
			}
			return false, nil
		}
	}
	newKey, err := seal.ParseMasterKey(string(text))
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %s: %w", pending, err)
	}
	ok, err := opens(newKey)
	if err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	if !ok {
		return false, fmt.Errorf("interrupted master key rotation: neither %s nor %s opens the store: %w", keyPath, pending, seal.ErrWrongMasterKey)
	}
	if err := promotePendingKey(pending, keyPath); err != nil {
		return false, fmt.Errorf("interrupted master key rotation: %w", err)
	}
	return true, nil
}

// promotePendingKey renames pending over keyPath and makes the rename durable.
func promotePendingKey(pending, keyPath string) error {
	if err := os.Rename(pending, keyPath); err != nil {
		return fmt.Errorf("replace master key file: %w", err)
	}
	d, err := os.Open(filepath.Dir(keyPath))
	if err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
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
