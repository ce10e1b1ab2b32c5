package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/ini.v1"

	"github.com/hush-secrets/hush/internal/atomicfile"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// configureOptions are the flags of hush configure.
type configureOptions struct {
	host, profile, configFile string
	tokenAuth                 bool
}

// newConfigureCmd builds "hush configure": write a host and a personal access
// token into a profile of ~/.databrickscfg, like "databricks configure --token".
func newConfigureCmd() *cobra.Command {
	var o configureOptions
	cmd := &cobra.Command{
		Use:   "configure",
		Short: "Save a host and a personal access token in a profile of ~/.databrickscfg",
		Long: `Asks for the server's URL and a personal access token and saves them in a
profile of ~/.databrickscfg (or $DATABRICKS_CONFIG_FILE, or --config-file),
which hush, the Databricks CLIs and SDKs all read. The token is typed at a
hidden prompt when standard input is a terminal; otherwise the host (unless
--host is given) and the token are read as lines from standard input.

Other profiles and comments in the file are kept; the file is written with
mode 0600. http:// hosts are accepted, for a local "hush serve".`,
		Example: `  hush configure --token
  hush configure --token --host http://127.0.0.1:8300 --profile local
  printf '%s\n' "$TOKEN" | hush configure --token --host https://hush.example.com`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runConfigure(c.Context(), o, c.InOrStdin(), c.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.tokenAuth, "token", true, "authenticate with a personal access token (the only method hush supports)")
	fl.StringVar(&o.host, "host", "", "the server's URL, e.g. https://hush.example.com or http://127.0.0.1:8300")
	fl.StringVarP(&o.profile, "profile", "p", dbapi.DefaultProfile, "profile to write")
	fl.StringVar(&o.configFile, "config-file", "", "config file to write (default $DATABRICKS_CONFIG_FILE, then ~/.databrickscfg)")
	return cmd
}

// runConfigure asks for what the flags did not give, then saves the host
// and the token in the profile; nothing is written unless both are known.
func runConfigure(ctx context.Context, o configureOptions, in io.Reader, errw io.Writer) error {
	if o.profile == "" {
		return usagef("--profile must not be empty")
	}
	path, err := dbapi.ConfigFilePath(dbapi.ConfigOptions{ConfigFile: o.configFile})
	if err != nil {
		return err
	}
	file, err := loadOrEmptyConfig(path)
	if err != nil {
		return err
	}
	sec := file.Section(o.profile)
	fd, tty := terminalFd(in)
	p := prompter{r: bufio.NewReader(in), errw: errw, fd: fd, tty: tty}
	host := o.host
	if host == "" {
		if host, err = p.host(sec.Key("host").String()); err != nil {
			return err
		}
	}
	normHost, err := dbapi.NormalizeHost(host)
	if err != nil {
		return usageError{err}
	}
	token, err := p.token(ctx)
	if err != nil {
		return err
	}
	sec.Key("host").SetValue(normHost)
	sec.Key("token").SetValue(token)
	if err := writeConfigFile(path, file); err != nil {
		return err
	}
	fmt.Fprintf(errw, "Profile %s saved in %s\n", o.profile, path)
	return nil
}

// prompter asks hush configure's questions on errw and reads the answers
// from r: lines, or, for the token on a terminal (tty, fd), hidden input.
type prompter struct {
	r    *bufio.Reader
	errw io.Writer
	fd   int
	tty  bool
}

// host asks for the server's URL, offering current (the profile's host,
// if any) as the default.
func (p prompter) host(current string) (string, error) {
	prompt := "Databricks Host (should begin with https://)"
	if current != "" {
		prompt += " [" + current + "]"
	}
	fmt.Fprint(p.errw, prompt+": ")
	line, err := readLine(p.r)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read host: %w", err)
	}
	if !p.tty {
		fmt.Fprintln(p.errw)
	}
	host := strings.TrimSpace(line)
	if host == "" {
		host = current
	}
	if host == "" {
		return "", errors.New("no host given: type the server's URL, or pass --host")
	}
	return host, nil
}

// token asks for the token, hidden on a terminal; an empty one is an error.
func (p prompter) token(ctx context.Context) (string, error) {
	fmt.Fprint(p.errw, "Token: ")
	var token string
	var err error
	if p.tty {
		token, err = readHidden(ctx, p.fd, p.r, p.errw)
	} else {
		token, err = readLine(p.r)
		fmt.Fprintln(p.errw)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read token: %w", err)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errors.New("no token given: nothing written")
	}
	return token, nil
}

// loadOrEmptyConfig parses the config file at path, or returns an empty one
// when it does not exist. A file that does not parse is an error: it is never
// overwritten.
func loadOrEmptyConfig(path string) (*ini.File, error) {
	f, err := dbapi.LoadConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ini.Empty(ini.LoadOptions{SpaceBeforeInlineComment: true}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s (fix or move it; it was not changed): %w", path, err)
	}
	return f, nil
}

// writeConfigFile replaces the file at path (through a symbolic link) with
// f, atomically, durably and with mode 0600 (see package atomicfile). ini.v1 does
// not write the [DEFAULT] header, which Python's configparser (the legacy
// Databricks CLI) requires, so it is added here.
func writeConfigFile(path string, f *ini.File) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	var buf bytes.Buffer
	def := f.Section(ini.DefaultSection)
	if len(def.Keys()) > 0 {
		if def.Comment != "" {
			for _, l := range strings.Split(def.Comment, "\n") {
				if l != "" && l[0] != '#' && l[0] != ';' {
					l = "; " + l
				}
				buf.WriteString(l + "\n")
			}
		}
		buf.WriteString("[" + ini.DefaultSection + "]\n")
		saved := def.Comment
		def.Comment = ""
		_, err := f.WriteTo(&buf)
		def.Comment = saved
		if err != nil {
			return fmt.Errorf("encode %s: %w", path, err)
		}
	} else if _, err := f.WriteTo(&buf); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}
