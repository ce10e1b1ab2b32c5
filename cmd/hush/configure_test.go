package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

func resolveFrom(t *testing.T, file, profile string) dbapi.Config {
	t.Helper()
	cfg, err := dbapi.ResolveConfig(dbapi.ConfigOptions{ConfigFile: file, Profile: profile, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigurePipedWritesDefaultProfile(t *testing.T) {
	file := cliEnv(t)
	r := hush(t, strings.NewReader("http://127.0.0.1:8300/\ndapi-piped-token\n"), "configure", "--token").ok(t)
	if r.stdout != "" {
		t.Fatalf("stdout = %q, want nothing", r.stdout)
	}
	if !redacttest.AssertNoSecret(t, []byte(r.stderr), []byte("dapi-piped-token")) {
		t.Fatal("token echoed")
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	body, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(body), "[DEFAULT]\n") {
		t.Fatalf("file does not start with a [DEFAULT] header (Python's configparser needs it):\n%s", body)
	}
	cfg := resolveFrom(t, file, "")
	if cfg.Host != "http://127.0.0.1:8300" || cfg.Token != "dapi-piped-token" {
		t.Fatalf("read back %v", cfg)
	}
}

func TestConfigureKeepsOtherProfilesAndComments(t *testing.T) {
	file := cliEnv(t)
	orig := "; managed by hand\n[DEFAULT]\nhost = https://default.example.com\ntoken = dapi-default\n\n# staging workspace\n[staging]\nhost = https://staging.example.com\ntoken = dapi-staging\ncluster_id = 0101-abc\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	hush(t, strings.NewReader("dapi-local\n"), "configure", "--token", "--host", "http://localhost:8300", "--profile", "local").ok(t)
	body, _ := os.ReadFile(file)
	for _, want := range []string{"; managed by hand", "# staging workspace", "cluster_id = 0101-abc", "[staging]", "[local]"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("file lost %q:\n%s", want, body)
		}
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	if c := resolveFrom(t, file, "staging"); c.Token != "dapi-staging" {
		t.Fatalf("staging = %v", c)
	}
	if c := resolveFrom(t, file, ""); c.Host != "https://default.example.com" || c.Token != "dapi-default" {
		t.Fatalf("DEFAULT = %v", c)
	}
	if c := resolveFrom(t, file, "local"); c.Host != "http://localhost:8300" || c.Token != "dapi-local" {
		t.Fatalf("local = %v", c)
	}

	// Reconfiguring an existing profile offers its host as the default.
	r := hush(t, strings.NewReader("\ndapi-staging-2\n"), "configure", "--profile", "staging").ok(t)
	if !strings.Contains(r.stderr, "[https://staging.example.com]") {
		t.Fatalf("prompt did not offer the current host: %q", r.stderr)
	}
	if c := resolveFrom(t, file, "staging"); c.Host != "https://staging.example.com" || c.Token != "dapi-staging-2" {
		t.Fatalf("staging after update = %v", c)
	}
	body, _ = os.ReadFile(file)
	if !strings.Contains(string(body), "cluster_id = 0101-abc") {
		t.Fatalf("other keys of the profile lost:\n%s", body)
	}
}

func TestConfigureHonoursConfigFileEnvAndFlag(t *testing.T) {
	cliEnv(t)
	envFile := t.TempDir() + "/env.cfg"
	t.Setenv("DATABRICKS_CONFIG_FILE", envFile)
	hush(t, strings.NewReader("h1.example.com\ntok1\n"), "configure").ok(t)
	if c := resolveFrom(t, envFile, ""); c.Host != "https://h1.example.com" {
		t.Fatalf("env file: %v", c)
	}
	flagFile := t.TempDir() + "/sub/dir/flag.cfg"
	hush(t, strings.NewReader("tok2\n"), "configure", "--host", "h2.example.com", "--config-file", flagFile).ok(t)
	if c := resolveFrom(t, flagFile, ""); c.Token != "tok2" {
		t.Fatalf("flag file: %v", c)
	}
}

func TestConfigureErrors(t *testing.T) {
	file := cliEnv(t)
	hush(t, strings.NewReader("http://h:1\n"), "configure").fails(t, exitError, "no token given")
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("file written despite the error: %v", err)
	}
	hush(t, strings.NewReader("\n"), "configure").fails(t, exitError, "no host given")
	hush(t, strings.NewReader("tok\n"), "configure", "--host", "ftp://h").fails(t, exitUsage, "scheme must be http or https")
	hush(t, nil, "configure", "extra").fails(t, exitUsage, "unknown command")

	bad := "[DEFAULT\nhost = x\n"
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	hush(t, strings.NewReader("tok\n"), "configure", "--host", "http://h:1").fails(t, exitError, "it was not changed")
	if body, _ := os.ReadFile(file); string(body) != bad {
		t.Fatalf("unparsable file was modified: %q", body)
	}
}

// openPty opens a pseudo-terminal pair through /dev/ptmx.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pty slave: %v", err)
	}
	return m, s
}

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestConfigureThroughATerminal types the host and the token into a real
// pseudo-terminal: the host is echoed, the token is not, and echo is back on
// afterwards.
func TestConfigureThroughATerminal(t *testing.T) {
	file := cliEnv(t)
	master, slave := openPty(t)
	defer master.Close()
	defer slave.Close()

	var echoed bytes.Buffer
	var echoMu sync.Mutex
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		r := bufio.NewReader(master)
		buf := make([]byte, 256)
		for {
			n, err := r.Read(buf)
			echoMu.Lock()
			echoed.Write(buf[:n])
			echoMu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	if !echoOn(t, slave) {
		t.Fatal("fresh terminal has echo off")
	}
	if _, err := master.Write([]byte("http://tty-host:8300\n")); err != nil {
		t.Fatal(err)
	}
	done := make(chan cliResult, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"configure", "--token"}, slave, &out, &errb)
		done <- cliResult{code, out.String(), errb.String()}
	}()
	// Type the token only once the command has turned echo off, as a person
	// would after seeing the prompt.
	// (A hang guard, not a timing assertion: a broken prompt never turns echo off.)
	giveUp := time.Now().Add(30 * time.Second)
	for echoOn(t, slave) {
		select {
		case r := <-done:
			t.Fatalf("configure ended before asking for the token: %+v", r)
		default:
		}
		if time.Now().After(giveUp) {
			t.Fatal("configure never turned terminal echo off for the token prompt")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := master.Write([]byte("dapi-typed-secret\n")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	r.ok(t)
	if !echoOn(t, slave) {
		t.Fatal("echo not restored after the hidden prompt")
	}
	slave.Close()
	<-readerDone

	echoMu.Lock()
	tty := echoed.String()
	echoMu.Unlock()
	if !strings.Contains(tty, "http://tty-host:8300") {
		t.Fatalf("host was not echoed: %q", tty)
	}
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"tty": []byte(tty), "stderr": []byte(r.stderr)}, []byte("dapi-typed-secret")) {
		t.Fatal("token was echoed")
	}
	if c := resolveFrom(t, file, ""); c.Host != "http://tty-host:8300" || c.Token != "dapi-typed-secret" {
		t.Fatalf("read back %v", c)
	}
}
