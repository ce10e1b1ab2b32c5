package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/files"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// serverEnv starts a real hush server for the test and points the CLI at it
// through DATABRICKS_HOST / DATABRICKS_TOKEN.
func serverEnv(t *testing.T) *servertest.Server {
	t.Helper()
	cliEnv(t)
	srv := servertest.Start(t)
	t.Setenv("DATABRICKS_HOST", srv.URL)
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)
	return srv
}

// secretValue reads a secret back through get-secret and decodes it.
func secretValue(t *testing.T, scope, key string) string {
	t.Helper()
	r := hush(t, nil, "secrets", "get-secret", scope, key).ok(t)
	var got struct{ Key, Value string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get-secret printed %q: %v", r.stdout, err)
	}
	if got.Key != key {
		t.Fatalf("get-secret key = %q, want %q", got.Key, key)
	}
	v, err := base64.StdEncoding.DecodeString(got.Value)
	if err != nil {
		t.Fatalf("get-secret value %q is not base64", got.Value)
	}
	return string(v)
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return v
}

func TestSecretsLegacySyntax(t *testing.T) {
	srv := serverEnv(t)
	srv.CreateGroup(t, "data-team")
	srv.CreateGroup(t, "ops")
	hush(t, nil, "secrets", "create-scope", "--scope", "legacy", "--initial-manage-principal", "users").ok(t)
	hush(t, nil, "secrets", "create-scope", "--scope", "legacy").fails(t, exitError, "Error: ")

	r := hush(t, nil, "secrets", "list-scopes").ok(t)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) < 3 || lines[0] != "Scope    Backend     KeyVault URL" || lines[1] != "-------  ----------  --------------" {
		t.Fatalf("list-scopes table:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "\nlegacy   DATABRICKS  N/A\n") {
		t.Fatalf("list-scopes lacks the scope row:\n%s", r.stdout)
	}

	hush(t, nil, "secrets", "put", "--scope", "legacy", "--key", "db-password", "--string-value", "legacy-value-1").ok(t)
	if v := secretValue(t, "legacy", "db-password"); v != "legacy-value-1" {
		t.Fatalf("value = %q", v)
	}
	bin := filepath.Join(t.TempDir(), "cert.der")
	binary := "\x00\x01\xfe\xffbinary\n"
	if err := os.WriteFile(bin, []byte(binary), 0o600); err != nil {
		t.Fatal(err)
	}
	hush(t, nil, "secrets", "write", "--scope", "legacy", "--key", "cert", "--binary-file", bin).ok(t)
	if v := secretValue(t, "legacy", "cert"); v != binary {
		t.Fatalf("binary value = %q", v)
	}
	hush(t, nil, "secrets", "put", "--scope", "legacy", "--key", "x", "--binary-file", bin+".missing").fails(t, exitUsage, "does not exist")
	hush(t, nil, "secrets", "put", "--scope", "legacy", "--key", "x", "--binary-file", bin, "--string-value", "v").fails(t, exitUsage, "at most one of")

	r = hush(t, nil, "secrets", "list", "--scope", "legacy").ok(t)
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "Key name       Last updated" || lines[1] != "-----------  --------------" {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	if !strings.HasPrefix(lines[2], "cert ") || !strings.HasPrefix(lines[3], "db-password  ") {
		t.Fatalf("list rows:\n%s", r.stdout)
	}
	if !redacttest.AssertNoSecret(t, []byte(r.stdout), []byte("legacy-value-1")) {
		t.Fatal("list printed a value")
	}
	r = hush(t, nil, "secrets", "list", "--scope", "legacy", "--output", "JSON").ok(t)
	secrets := decodeJSON[map[string][]map[string]any](t, r.stdout)["secrets"]
	if len(secrets) != 2 || secrets[0]["key"] != "cert" || secrets[1]["key"] != "db-password" {
		t.Fatalf("list --output JSON: %s", r.stdout)
	}
	if ts, ok := secrets[0]["last_updated_timestamp"].(float64); !ok || ts <= 0 {
		t.Fatalf("no timestamp: %s", r.stdout)
	}

	hush(t, nil, "secrets", "put-acl", "--scope", "legacy", "--principal", "data-team", "--permission", "READ").ok(t)
	hush(t, nil, "secrets", "write-acl", "--scope", "legacy", "--principal", "ops", "--permission", "WRITE").ok(t)
	r = hush(t, nil, "secrets", "get-acl", "--scope", "legacy", "--principal", "data-team").ok(t)
	if r.stdout != "Principal    Permission\n-----------  ------------\ndata-team    READ\n" {
		t.Fatalf("get-acl table:\n%q", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-acls", "--scope", "legacy", "--output", "JSON").ok(t)
	acls := decodeJSON[map[string][]map[string]string](t, r.stdout)["items"]
	found := map[string]string{}
	for _, a := range acls {
		found[a["principal"]] = a["permission"]
	}
	if found["data-team"] != "READ" || found["ops"] != "WRITE" {
		t.Fatalf("list-acls JSON: %s", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-acls", "--scope", "legacy").ok(t)
	if !strings.HasPrefix(r.stdout, "Principal    Permission\n") || !strings.Contains(r.stdout, "\nops          WRITE\n") {
		t.Fatalf("list-acls table:\n%s", r.stdout)
	}
	hush(t, nil, "secrets", "delete-acl", "--scope", "legacy", "--principal", "ops").ok(t)
	r = hush(t, nil, "secrets", "list-acls", "--scope", "legacy").ok(t)
	if strings.Contains(r.stdout, "ops") {
		t.Fatalf("ACL not deleted:\n%s", r.stdout)
	}

	hush(t, nil, "secrets", "delete", "--scope", "legacy", "--key", "cert").ok(t)
	hush(t, nil, "secrets", "get-secret", "legacy", "cert").fails(t, exitError, "Error: ")
	hush(t, nil, "secrets", "delete-scope", "--scope", "legacy").ok(t)
	r = hush(t, nil, "secrets", "list-scopes", "--output", "JSON").ok(t)
	if strings.Contains(r.stdout, "legacy") {
		t.Fatalf("scope not deleted: %s", r.stdout)
	}
}

func TestSecretsNewSyntax(t *testing.T) {
	srv := serverEnv(t)
	srv.CreateGroup(t, "analysts")
	hush(t, nil, "secrets", "create-scope", "newsyn").ok(t)
	r := hush(t, nil, "secrets", "list-scopes", "-o", "json").ok(t)
	scopes := decodeJSON[[]map[string]any](t, r.stdout)
	var seen bool
	for _, s := range scopes {
		if s["name"] == "newsyn" && s["backend_type"] == "DATABRICKS" {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("list-scopes -o json: %s", r.stdout)
	}

	hush(t, nil, "secrets", "put-secret", "newsyn", "api-key", "--string-value", "string-value-1").ok(t)
	if v := secretValue(t, "newsyn", "api-key"); v != "string-value-1" {
		t.Fatalf("value = %q", v)
	}
	// --bytes-value takes the raw value, as the Databricks CLI does.
	hush(t, nil, "secrets", "put-secret", "newsyn", "raw", "--bytes-value", "raw bytes").ok(t)
	if v := secretValue(t, "newsyn", "raw"); v != "raw bytes" {
		t.Fatalf("bytes value = %q", v)
	}
	// Piped stdin: every byte, newlines included.
	pem := "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----\n"
	hush(t, strings.NewReader(pem), "secrets", "put-secret", "newsyn", "tls-key").ok(t)
	if v := secretValue(t, "newsyn", "tls-key"); v != pem {
		t.Fatalf("stdin value = %q", v)
	}
	hush(t, strings.NewReader(""), "secrets", "put-secret", "newsyn", "empty").fails(t, exitError, "standard input is empty")
	hush(t, nil, "secrets", "put-secret", "newsyn", "k", "--string-value", "a", "--bytes-value", "b").fails(t, exitUsage, "cannot specify both")

	r = hush(t, nil, "secrets", "get-secret", "newsyn", "api-key").ok(t)
	if r.stdout != "{\n  \"key\": \"api-key\",\n  \"value\": \""+base64.StdEncoding.EncodeToString([]byte("string-value-1"))+"\"\n}\n" {
		t.Fatalf("get-secret output: %q", r.stdout)
	}

	r = hush(t, nil, "secrets", "list-secrets", "newsyn", "-o", "json").ok(t)
	list := decodeJSON[[]map[string]any](t, r.stdout)
	if len(list) != 3 {
		t.Fatalf("list-secrets: %s", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-secrets", "newsyn").ok(t)
	if !strings.HasPrefix(r.stdout, "Key name      Last updated\n----------  --------------\n") || !strings.Contains(r.stdout, "\ntls-key ") {
		t.Fatalf("list-secrets table:\n%s", r.stdout)
	}

	hush(t, nil, "secrets", "put-acl", "newsyn", "analysts", "READ").ok(t)
	r = hush(t, nil, "secrets", "get-acl", "newsyn", "analysts", "-o", "json").ok(t)
	if r.stdout != "{\n  \"permission\": \"READ\",\n  \"principal\": \"analysts\"\n}\n" {
		t.Fatalf("get-acl -o json: %q", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-acls", "newsyn", "-o", "json").ok(t)
	if !strings.Contains(r.stdout, `"principal": "analysts"`) {
		t.Fatalf("list-acls: %s", r.stdout)
	}
	hush(t, nil, "secrets", "delete-acl", "newsyn", "analysts").ok(t)
	hush(t, nil, "secrets", "get-acl", "newsyn", "analysts").fails(t, exitError, "Error: ")
	hush(t, nil, "secrets", "delete-secret", "newsyn", "api-key").ok(t)
	r = hush(t, nil, "secrets", "list-secrets", "newsyn", "-o", "json").ok(t)
	if strings.Contains(r.stdout, "api-key") {
		t.Fatalf("secret not deleted: %s", r.stdout)
	}
	hush(t, nil, "secrets", "delete-scope", "newsyn").ok(t)
	hush(t, nil, "secrets", "list-secrets", "newsyn").fails(t, exitError, "Error: ")
}

// writeEditor writes an executable shell script to use as $EDITOR.
func writeEditor(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretsPutWithEditor(t *testing.T) {
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "ed").ok(t)

	// The template is the legacy CLI's; the script checks it and types a value.
	saw := filepath.Join(t.TempDir(), "template")
	typing := writeEditor(t, `cp "$1" `+saw+` && { printf 'edited-value\n\n'; cat "$1"; } > "$1.new" && mv "$1.new" "$1"`)
	t.Setenv("EDITOR", typing)
	hush(t, nil, "secrets", "put", "--scope", "ed", "--key", "k").ok(t)
	if v := secretValue(t, "ed", "k"); v != "edited-value" {
		t.Fatalf("value = %q, want the typed text without trailing newlines", v)
	}
	tmpl, _ := os.ReadFile(saw)
	if string(tmpl) != editorTemplate || !strings.Contains(string(tmpl), "# Do not edit the above line. Everything below it will be ignored.\n") {
		t.Fatalf("editor saw %q", tmpl)
	}

	// $VISUAL wins over $EDITOR.
	t.Setenv("VISUAL", writeEditor(t, `{ printf 'from-visual'; cat "$1"; } > "$1.new" && mv "$1.new" "$1"`))
	hush(t, nil, "secrets", "put", "--scope", "ed", "--key", "k").ok(t)
	if v := secretValue(t, "ed", "k"); v != "from-visual" {
		t.Fatalf("value = %q", v)
	}
	t.Setenv("VISUAL", "")

	// Abort rules: nothing is written in any of these.
	for _, tc := range []struct{ name, script, msg string }{
		{"unchanged", `true`, "No changes made, write secret aborted."},
		{"marker edited", `printf 'v\n# ---\n' > "$1"`, "Please DO NOT edit the line with dashes. Write secret aborted."},
		{"only newlines", `{ printf '\n\n\n'; cat "$1"; } > "$1.new" && mv "$1.new" "$1"`, "write secret aborted"},
		{"editor fails", `exit 3`, "write secret aborted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EDITOR", writeEditor(t, tc.script))
			hush(t, nil, "secrets", "put", "--scope", "ed", "--key", "aborted").fails(t, exitError, tc.msg)
			hush(t, nil, "secrets", "get-secret", "ed", "aborted").fails(t, exitError, "Error: ")
		})
	}

	// An editor command with arguments, as in EDITOR="code --wait".
	withArgs := writeEditor(t, `[ "$1" = "--flag" ] || exit 9; { printf 'with-args'; cat "$2"; } > "$2.new" && mv "$2.new" "$2"`)
	t.Setenv("EDITOR", withArgs+" --flag")
	hush(t, nil, "secrets", "put", "--scope", "ed", "--key", "k2").ok(t)
	if v := secretValue(t, "ed", "k2"); v != "with-args" {
		t.Fatalf("value = %q", v)
	}
}

func TestSecretsErrorsAndExitCodes(t *testing.T) {
	serverEnv(t)
	r := hush(t, nil, "secrets", "list-secrets", "no-such-scope").fails(t, exitError, "Error: ")
	if r.stdout != "" {
		t.Fatalf("stdout on error: %q", r.stdout)
	}
	hush(t, nil, "secrets", "create-scope").fails(t, exitUsage, "missing scope")
	hush(t, nil, "secrets", "create-scope", "a", "--scope", "b").fails(t, exitUsage, "given twice")
	hush(t, nil, "secrets", "create-scope", "a", "b").fails(t, exitUsage, "accepts at most 1 arg")
	hush(t, nil, "secrets", "create-scope", "x", "--scope-backend-type", "S3").fails(t, exitUsage, "invalid --scope-backend-type")
	hush(t, nil, "secrets", "put-acl", "s", "p", "read").fails(t, exitUsage, "invalid permission")
	hush(t, nil, "secrets", "put-acl", "s", "p").fails(t, exitUsage, "missing permission")
	hush(t, nil, "secrets", "list-scopes", "-o", "yaml").fails(t, exitUsage, "invalid output format")
	hush(t, nil, "secrets", "frobnicate").fails(t, exitUsage, "unknown command")
	hush(t, nil, "secrets").fails(t, exitUsage, "missing subcommand")

	t.Setenv("DATABRICKS_TOKEN", "dapi-wrong-token")
	r = hush(t, nil, "secrets", "list-scopes").fails(t, exitError, "Error: ")
	if !redacttest.AssertNoSecret(t, []byte(r.stderr), []byte("dapi-wrong-token")) {
		t.Fatal("token in error")
	}
	t.Setenv("DATABRICKS_HOST", "")
	t.Setenv("DATABRICKS_TOKEN", "")
	hush(t, nil, "secrets", "list-scopes").fails(t, exitError, "no host configured: set DATABRICKS_HOST or run hush configure")
	hush(t, nil, "secrets", "list-scopes", "-p", "nope").fails(t, exitError, "profile nope not found in")
}

func TestSecretsUseConfiguredProfile(t *testing.T) {
	srv := serverEnv(t)
	host, token := srv.URL, srv.AdminToken
	t.Setenv("DATABRICKS_HOST", "")
	t.Setenv("DATABRICKS_TOKEN", "")
	hush(t, strings.NewReader(token+"\n"), "configure", "--host", host, "--profile", "local").ok(t)
	hush(t, nil, "secrets", "create-scope", "via-profile", "--profile", "local").ok(t)
	r := hush(t, nil, "secrets", "-p", "local", "list-scopes").ok(t)
	if !strings.Contains(r.stdout, "via-profile") {
		t.Fatalf("list-scopes via profile:\n%s", r.stdout)
	}
	t.Setenv("DATABRICKS_CONFIG_PROFILE", "local")
	hush(t, nil, "secrets", "list-scopes").ok(t)
}

func TestPrintTableMatchesTabulateSimple(t *testing.T) {
	var b strings.Builder
	err := printTable(&b, []column{{header: "Key name"}, {header: "Last updated", numeric: true}},
		[][]string{{"a", "1700000000000"}, {"a-much-longer-key", "5"}})
	if err != nil {
		t.Fatal(err)
	}
	// What python -c 'from tabulate import tabulate; print(tabulate([("a",1700000000000),("a-much-longer-key",5)], headers=("Key name","Last updated")))' prints, trailing blanks trimmed.
	want := "Key name             Last updated\n" +
		"-----------------  --------------\n" +
		"a                   1700000000000\n" +
		"a-much-longer-key               5\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := printTable(&b, []column{{header: "Scope"}, {header: "Backend"}, {header: "KeyVault URL"}}, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "Scope    Backend    KeyVault URL\n-------  ---------  --------------\n" {
		t.Fatalf("empty table: %q", b.String())
	}
}

// TestPutSecretPromptsOnATerminal types a value at put-secret's hidden
// prompt through a real pseudo-terminal: it is stored and never echoed.
func TestPutSecretPromptsOnATerminal(t *testing.T) {
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "tty").ok(t)
	master, slave := openPty(t)
	defer master.Close()
	defer slave.Close()
	echoed := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				echoed <- b.String()
				return
			}
		}
	}()
	done := make(chan cliResult, 1)
	go func() {
		var out, errb strings.Builder
		code := run(t.Context(), []string{"secrets", "put-secret", "tty", "typed"}, slave, &out, &errb)
		done <- cliResult{code, out.String(), errb.String()}
	}()
	giveUp := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for echoOn(t, slave) {
		if time.Now().After(giveUp) {
			t.Fatal("put-secret never turned terminal echo off")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := master.Write([]byte("typed-secret-value\n")); err != nil {
		t.Fatal(err)
	}
	r := (<-done).ok(t)
	if !strings.Contains(r.stderr, "Please enter your secret value: ") {
		t.Fatalf("no prompt: %q", r.stderr)
	}
	if !echoOn(t, slave) {
		t.Fatal("echo not restored")
	}
	slave.Close()
	if tty := <-echoed; !redacttest.AssertNoSecret(t, []byte(tty), []byte("typed-secret-value")) {
		t.Fatal("value echoed on the terminal")
	}
	if v := secretValue(t, "tty", "typed"); v != "typed-secret-value" {
		t.Fatalf("stored %q", v)
	}
}

func TestSecretsFilesScope(t *testing.T) {
	cliEnv(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "mounted"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "mounted", "api-key"), []byte("from-a-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	fb, err := files.NewBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartWith(t, servertest.Options{Files: fb})
	t.Setenv("DATABRICKS_HOST", srv.URL)
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)

	hush(t, nil, "secrets", "create-scope", "mnt", "--scope-backend-type", "FILES").fails(t, exitUsage, "needs --files-path")
	hush(t, nil, "secrets", "create-scope", "mnt", "--files-path", "mounted").fails(t, exitUsage, "needs --scope-backend-type FILES")
	hush(t, nil, "secrets", "create-scope", "mnt", "--scope-backend-type", "FILES", "--files-path", "mounted").ok(t)
	r := hush(t, nil, "secrets", "list-scopes").ok(t)
	if !strings.Contains(r.stdout, "\nmnt      FILES      mounted\n") {
		t.Fatalf("list-scopes:\n%s", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-scopes", "-o", "json").ok(t)
	if !strings.Contains(r.stdout, `"backend_files": {`) {
		t.Fatalf("list-scopes -o json: %s", r.stdout)
	}
	if v := secretValue(t, "mnt", "api-key"); v != "from-a-file" {
		t.Fatalf("value = %q", v)
	}
	hush(t, nil, "secrets", "put-secret", "mnt", "k", "--string-value", "v").fails(t, exitError, "Error: ")
}
