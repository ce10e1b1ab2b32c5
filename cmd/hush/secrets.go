package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newSecretsCmd builds "hush secrets": the Secrets API from the terminal, in
// both the legacy Databricks CLI syntax (--scope/--key flags, put with an
// editor, TABLE/JSON output) and the new one (positional SCOPE KEY, -o json).
func newSecretsCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage secret scopes, secrets and scope ACLs",
		Long: `Manage secret scopes, secrets and their access control lists on a hush server
or a Databricks workspace.

Both syntaxes of the Databricks CLIs work: the legacy one
  hush secrets create-scope --scope S
  hush secrets put --scope S --key K          (opens $VISUAL / $EDITOR)
  hush secrets list --scope S --output JSON
and the new one
  hush secrets create-scope S
  hush secrets put-secret S K                 (value from stdin or a prompt)
  hush secrets list-secrets S -o json
Each prints JSON as its CLI did: the legacy syntax the API's object, as the
legacy CLI printed it ({"scopes": [...]}, {"secrets": [...]}, {"items": [...]},
so jq '.scopes[]' works), the new syntax a bare array.

The server and token come from DATABRICKS_HOST / DATABRICKS_TOKEN or a profile
of ~/.databrickscfg (see "hush configure").`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	f.register(cmd)
	cmd.AddCommand(
		newCreateScopeCmd(f),
		newListScopesCmd(f),
		newDeleteScopeCmd(f),
		newPutCmd(f),
		newPutSecretCmd(f),
		newGetSecretCmd(f),
		newListSecretsCmd(f),
		newDeleteSecretCmd(f),
		newPutACLCmd(f),
		newGetACLCmd(f),
		newListACLsCmd(f),
		newDeleteACLCmd(f),
	)
	return cmd
}

// operands collects the values a command takes either positionally (new
// syntax) or as --flags (legacy syntax). names are the flag names in argument
// order.
type operands struct {
	names []string
	vals  []string
}

func newOperands(cmd *cobra.Command, names ...string) *operands {
	o := &operands{names: names, vals: make([]string, len(names))}
	for i, n := range names {
		cmd.Flags().StringVar(&o.vals[i], n, "", "the "+n+" (or give it as argument "+strconv.Itoa(i+1)+")")
	}
	cmd.Args = cobra.MaximumNArgs(len(names))
	return o
}

// resolve returns the operands, each from its positional argument or its
// flag; giving both, or neither, is a usage error.
func (o *operands) resolve(c *cobra.Command, args []string) ([]string, error) {
	out := make([]string, len(o.names))
	for i, n := range o.names {
		changed := c.Flags().Changed(n)
		switch {
		case i < len(args) && changed:
			return nil, usagef("%s given twice: as argument %d and as --%s", n, i+1, n)
		case i < len(args):
			out[i] = args[i]
		case changed:
			out[i] = o.vals[i]
		default:
			return nil, usagef("missing %s: give it as argument %d or with --%s\nRun '%s --help' for usage.", n, i+1, n, c.CommandPath())
		}
		if out[i] == "" {
			return nil, usagef("%s must not be empty", n)
		}
	}
	return out, nil
}

// withOperands returns a RunE that resolves the command's operands and the
// API client, then calls fn with both: the start every secrets subcommand
// shares.
func (f *apiFlags) withOperands(ops *operands, fn func(c *cobra.Command, client *dbapi.Client, v []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		return fn(c, client, v)
	}
}

// Output records in the field order of the Databricks Go SDK, which the new
// CLI prints with -o json.
type (
	scopeJSON struct {
		BackendType  string               `json:"backend_type"`
		BackendFiles *dbapi.FilesMetadata `json:"backend_files,omitempty"`
		Name         string               `json:"name"`
	}
	secretJSON struct {
		Key                  string `json:"key"`
		LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
	}
	aclJSON struct {
		Permission string `json:"permission"`
		Principal  string `json:"principal"`
	}
)

func newCreateScopeCmd(f *apiFlags) *cobra.Command {
	var principal, backend, resourceID, dnsName, filesPath string
	cmd := &cobra.Command{
		Use:   "create-scope SCOPE",
		Short: "Create a secret scope",
		Long: `Creates a secret scope. The creator gets MANAGE on it, unless
--initial-manage-principal users is given, which grants MANAGE to every user.`,
		Example: `  hush secrets create-scope my-scope
  hush secrets create-scope --scope my-scope --initial-manage-principal users`,
	}
	ops := newOperands(cmd, "scope")
	fl := cmd.Flags()
	fl.StringVar(&principal, "initial-manage-principal", "", `principal that gets MANAGE on the new scope; only "users" (all users) is supported`)
	fl.StringVar(&backend, "scope-backend-type", "DATABRICKS", "backend of the scope: DATABRICKS, or FILES (hush: a read-only directory on the server)")
	fl.StringVar(&resourceID, "resource-id", "", "Azure Key Vault resource ID (AZURE_KEYVAULT scopes; not supported by hush serve)")
	fl.StringVar(&dnsName, "dns-name", "", "Azure Key Vault DNS name (AZURE_KEYVAULT scopes; not supported by hush serve)")
	fl.StringVar(&filesPath, "files-path", "", "directory below the server's files root (FILES scopes)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		req := dbapi.CreateScopeRequest{Scope: v[0], InitialManagePrincipal: principal}
		switch backend {
		case "DATABRICKS":
		case "AZURE_KEYVAULT":
			if resourceID == "" || dnsName == "" {
				return usagef("--scope-backend-type AZURE_KEYVAULT needs --resource-id and --dns-name")
			}
			req.ScopeBackendType = backend
			req.BackendAzureKeyvault = &dbapi.AzureKeyVaultMetadata{ResourceID: resourceID, DNSName: dnsName}
		case string(secrets.BackendFiles):
			if filesPath == "" {
				return usagef("--scope-backend-type FILES needs --files-path")
			}
			req.ScopeBackendType = backend
			req.BackendFiles = &dbapi.FilesMetadata{Path: filesPath}
		default:
			return usagef("invalid --scope-backend-type %q: must be DATABRICKS, AZURE_KEYVAULT or FILES (case-sensitive)", backend)
		}
		if filesPath != "" && req.BackendFiles == nil {
			return usagef("--files-path needs --scope-backend-type FILES")
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		return client.CreateScope(c.Context(), req)
	}
	return cmd
}

func newListScopesCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list-scopes",
		Short: "List the secret scopes",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			scopes, err := client.ListScopes(c.Context())
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			if f.legacyJSON(c) {
				return printLegacyJSON(w, dbapi.ListScopesResponse{Scopes: scopes})
			}
			if f.json() {
				out := make([]scopeJSON, 0, len(scopes))
				for _, s := range scopes {
					out = append(out, scopeJSON{BackendType: s.BackendType, BackendFiles: s.Files, Name: s.Name})
				}
				return printJSON(w, out)
			}
			rows := make([][]string, 0, len(scopes))
			for _, s := range scopes {
				url := "N/A"
				if s.Files != nil && s.Files.Path != "" {
					url = s.Files.Path
				}
				rows = append(rows, []string{s.Name, s.BackendType, url})
			}
			return printTable(w, []column{{header: "Scope"}, {header: "Backend"}, {header: "KeyVault URL"}}, rows)
		},
	}
}

func newDeleteScopeCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete-scope SCOPE",
		Short: "Delete a secret scope with all its secrets and ACLs",
	}
	ops := newOperands(cmd, "scope")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		return client.DeleteScope(c.Context(), v[0])
	})
	return cmd
}

// editorMarker and editorTemplate are the legacy CLI's: the value goes above
// the dashed line, which must not be edited.
const (
	editorMarker   = "# ----------------------------------------------------------------------\n"
	editorTemplate = "\n\n" + editorMarker +
		"# Do not edit the above line. Everything below it will be ignored.\n" +
		"# Please input your secret value above the line. Text will be stored in\n" +
		"# UTF-8 (MB4) form and any trailing new line will be stripped.\n" +
		"# Exit without saving will abort writing secret."
)

func newPutCmd(f *apiFlags) *cobra.Command {
	var stringValue, binaryFile string
	cmd := &cobra.Command{
		Use:     "put SCOPE KEY",
		Aliases: []string{"write"},
		Short:   "Put a secret (legacy syntax, alias write); without a value, opens an editor",
		Long: `Puts a secret in a scope, overwriting any existing value of the key.

--string-value stores the string (UTF-8); --binary-file stores the bytes of
the file. With neither, $VISUAL or $EDITOR (default vi) opens on a template:
type the value above the dashed line and save. Leaving the editor without
saving, or saving no value, aborts without writing anything.

"write" is an alias of "put".`,
		Example: `  hush secrets put --scope my-scope --key db-password
  hush secrets put --scope my-scope --key cert --binary-file cert.der`,
	}
	ops := newOperands(cmd, "scope", "key")
	cmd.Flags().StringVar(&stringValue, "string-value", "", "the value, stored in UTF-8 (MB4) form")
	cmd.Flags().StringVar(&binaryFile, "binary-file", "", "read the value from this file and store it as bytes")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		hasString, hasFile := c.Flags().Changed("string-value"), c.Flags().Changed("binary-file")
		if hasString && hasFile {
			return usagef("at most one of --string-value and --binary-file may be given")
		}
		var (
			str  string
			data []byte
		)
		switch {
		case hasString:
			str = stringValue
		case hasFile:
			data, err = os.ReadFile(binaryFile)
			if errors.Is(err, fs.ErrNotExist) {
				return usagef("invalid value for --binary-file: %s does not exist", binaryFile)
			}
			if err != nil {
				return fmt.Errorf("read --binary-file: %w", err)
			}
		default:
			str, err = editSecret(c)
			if err != nil {
				return err
			}
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		if hasFile {
			err = client.PutSecretBytes(c.Context(), v[0], v[1], data)
		} else {
			err = client.PutSecret(c.Context(), v[0], v[1], str)
			data = []byte(str)
		}
		if err != nil {
			return err
		}
		warnShortValue(c.ErrOrStderr(), v[0], v[1], len(data))
		return nil
	}
	return cmd
}

// warnShortValue tells the user, when a value is written, that it is too
// short for the redactor (and hush scan) to protect: the same warning a
// notebook gets when the value is fetched, but at once.
func warnShortValue(stderr io.Writer, scope, key string, n int) {
	if n < redact.DefaultMinLength {
		fmt.Fprintf(stderr, "hush: warning: %s\n", handout.TooShortWarning("secret "+scope+"/"+key, n, redact.DefaultMinLength))
	}
}

// editSecret runs $VISUAL or $EDITOR (default vi) on a 0600 temporary file
// holding the legacy template and returns what was typed above the marker,
// trailing newlines stripped, with the legacy CLI's abort rules.
func editSecret(c *cobra.Command) (string, error) {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	tmp, err := os.CreateTemp("", "hush-secret-*.txt") // mode 0600
	if err != nil {
		return "", fmt.Errorf("create the editor's file: %w", err)
	}
	path := tmp.Name()
	defer os.Remove(path)
	if _, err := tmp.WriteString(editorTemplate); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write the editor's file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write the editor's file: %w", err)
	}
	// Like the legacy CLI, the editor command may carry arguments ("code --wait").
	ed := exec.CommandContext(c.Context(), "sh", "-c", editor+` "$1"`, "hush-editor", path)
	ed.Stdin, ed.Stdout, ed.Stderr = c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr()
	if err := ed.Run(); err != nil {
		return "", fmt.Errorf("editor %q failed, write secret aborted: %w", editor, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the editor's file: %w", err)
	}
	content := string(b)
	if content == editorTemplate {
		return "", errors.New("No changes made, write secret aborted. Please follow the instruction to input secret value.")
	}
	before, _, found := strings.Cut(content, editorMarker)
	if !found {
		return "", errors.New("Please DO NOT edit the line with dashes. Write secret aborted.")
	}
	value := strings.TrimRight(before, "\n")
	if value == "" {
		return "", errors.New("No secret value given above the line, write secret aborted.")
	}
	return value, nil
}

func newPutSecretCmd(f *apiFlags) *cobra.Command {
	var stringValue, bytesValue string
	cmd := &cobra.Command{
		Use:   "put-secret SCOPE KEY",
		Short: "Put a secret (new syntax); without a value, reads stdin or prompts",
		Long: `Puts a secret in a scope, overwriting any existing value of the key.

The value is given in one of three ways:
  --string-value V    stored as the UTF-8 string V
  --bytes-value V     the bytes of V, stored as bytes
  neither             read from standard input when it is piped (all of it,
                      stored as bytes, multi-line values welcome), or typed at
                      a hidden prompt when it is a terminal`,
		Example: `  hush secrets put-secret my-scope api-key --string-value "$API_KEY"
  hush secrets put-secret my-scope tls-key < key.pem`,
	}
	ops := newOperands(cmd, "scope", "key")
	cmd.Flags().StringVar(&stringValue, "string-value", "", "the value, stored in UTF-8 (MB4) form")
	cmd.Flags().StringVar(&bytesValue, "bytes-value", "", "the value, stored as bytes")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		hasString, hasBytes := c.Flags().Changed("string-value"), c.Flags().Changed("bytes-value")
		if hasString && hasBytes {
			return usagef("cannot specify both --bytes-value and --string-value")
		}
		var data []byte
		switch {
		case hasString:
		case hasBytes:
			data = []byte(bytesValue)
		default:
			data, err = readSecretInput(c)
			if err != nil {
				return err
			}
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		if hasString {
			err = client.PutSecret(c.Context(), v[0], v[1], stringValue)
			data = []byte(stringValue)
		} else {
			err = client.PutSecretBytes(c.Context(), v[0], v[1], data)
		}
		if err != nil {
			return err
		}
		warnShortValue(c.ErrOrStderr(), v[0], v[1], len(data))
		return nil
	}
	return cmd
}

// readSecretInput reads a value from a hidden prompt when stdin is a
// terminal, else all of stdin.
func readSecretInput(c *cobra.Command) ([]byte, error) {
	in := c.InOrStdin()
	if fd, ok := terminalFd(in); ok {
		fmt.Fprint(c.ErrOrStderr(), "Please enter your secret value: ")
		s, err := readHidden(c.Context(), fd, bufio.NewReader(in), c.ErrOrStderr())
		if err != nil {
			return nil, fmt.Errorf("read secret value: %w", err)
		}
		if s == "" {
			return nil, errors.New("no secret value entered, write secret aborted")
		}
		return []byte(s), nil
	}
	data, err := io.ReadAll(io.LimitReader(in, secrets.MaxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read secret value from standard input: %w", err)
	}
	if len(data) > secrets.MaxValueBytes {
		return nil, fmt.Errorf("secret value on standard input is larger than %d KiB", secrets.MaxValueBytes>>10)
	}
	if len(data) == 0 {
		return nil, errors.New(`standard input is empty, write secret aborted (use --string-value "" for an empty value)`)
	}
	return data, nil
}

func newGetSecretCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get-secret SCOPE KEY",
		Short: "Print a secret as JSON: its key and its value in base64",
		Long: `Prints {"key": KEY, "value": BASE64} like the Databricks CLI; decode the
value with base64 -d. Needs READ on the scope.`,
		Example: `  hush secrets get-secret my-scope api-key | jq -r .value | base64 -d`,
	}
	ops := newOperands(cmd, "scope", "key")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		val, err := client.GetSecret(c.Context(), v[0], v[1])
		if err != nil {
			return err
		}
		return printJSON(c.OutOrStdout(), dbapi.GetSecretResponse{Key: v[1], Value: base64.StdEncoding.EncodeToString(val)})
	})
	return cmd
}

func newListSecretsCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list-secrets SCOPE",
		Aliases: []string{"list"},
		Short:   "List the keys of a scope and when they changed (legacy name: list)",
	}
	ops := newOperands(cmd, "scope")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		list, err := client.ListSecrets(c.Context(), v[0])
		if err != nil {
			return err
		}
		w := c.OutOrStdout()
		if f.legacyJSON(c, "list") {
			return printLegacyJSON(w, dbapi.ListSecretsResponse{Secrets: list})
		}
		if f.json() {
			out := make([]secretJSON, 0, len(list))
			for _, s := range list {
				out = append(out, secretJSON(s))
			}
			return printJSON(w, out)
		}
		rows := make([][]string, 0, len(list))
		for _, s := range list {
			rows = append(rows, []string{s.Key, strconv.FormatInt(s.LastUpdatedTimestamp, 10)})
		}
		return printTable(w, []column{{header: "Key name"}, {header: "Last updated", numeric: true}}, rows)
	})
	return cmd
}

func newDeleteSecretCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete-secret SCOPE KEY",
		Aliases: []string{"delete"},
		Short:   "Delete a secret (legacy name: delete)",
	}
	ops := newOperands(cmd, "scope", "key")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		return client.DeleteSecret(c.Context(), v[0], v[1])
	})
	return cmd
}

var aclColumns = []column{{header: "Principal"}, {header: "Permission"}}

func newPutACLCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "put-acl SCOPE PRINCIPAL PERMISSION",
		Aliases: []string{"write-acl"},
		Short:   "Grant a principal READ, WRITE or MANAGE on a scope (alias write-acl)",
		Long: `Creates or overwrites the ACL of a principal (user or group) on a scope.
PERMISSION is READ, WRITE or MANAGE (each includes the ones before it).`,
		Example: `  hush secrets put-acl my-scope data-team READ
  hush secrets put-acl --scope my-scope --principal alice@example.com --permission MANAGE`,
	}
	ops := newOperands(cmd, "scope", "principal", "permission")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		if _, err := secrets.ParsePermission(v[2]); err != nil {
			return usageError{err}
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		return client.PutACL(c.Context(), v[0], v[1], v[2])
	}
	return cmd
}

func newGetACLCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get-acl SCOPE PRINCIPAL",
		Short: "Show the permission of a principal on a scope",
	}
	ops := newOperands(cmd, "scope", "principal")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		acl, err := client.GetACL(c.Context(), v[0], v[1])
		if err != nil {
			return err
		}
		if f.legacyJSON(c) {
			return printLegacyJSON(c.OutOrStdout(), acl)
		}
		if f.json() {
			return printJSON(c.OutOrStdout(), aclJSON{Permission: acl.Permission, Principal: acl.Principal})
		}
		return printTable(c.OutOrStdout(), aclColumns, [][]string{{acl.Principal, strings.ToUpper(acl.Permission)}})
	})
	return cmd
}

func newListACLsCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list-acls SCOPE",
		Short: "List the ACLs of a scope",
	}
	ops := newOperands(cmd, "scope")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		acls, err := client.ListACLs(c.Context(), v[0])
		if err != nil {
			return err
		}
		if f.legacyJSON(c) {
			return printLegacyJSON(c.OutOrStdout(), dbapi.ListACLsResponse{Items: acls})
		}
		if f.json() {
			out := make([]aclJSON, 0, len(acls))
			for _, a := range acls {
				out = append(out, aclJSON{Permission: a.Permission, Principal: a.Principal})
			}
			return printJSON(c.OutOrStdout(), out)
		}
		rows := make([][]string, 0, len(acls))
		for _, a := range acls {
			rows = append(rows, []string{a.Principal, strings.ToUpper(a.Permission)})
		}
		return printTable(c.OutOrStdout(), aclColumns, rows)
	})
	return cmd
}

func newDeleteACLCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete-acl SCOPE PRINCIPAL",
		Short: "Remove the ACL of a principal on a scope",
	}
	ops := newOperands(cmd, "scope", "principal")
	cmd.RunE = f.withOperands(ops, func(c *cobra.Command, client *dbapi.Client, v []string) error {
		return client.DeleteACL(c.Context(), v[0], v[1])
	})
	return cmd
}
