package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/ini.v1"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newConfigureCmd builds "hush configure": write a host and a personal access
// token into a profile of ~/.databrickscfg, like "databricks configure --token".
func newConfigureCmd() *cobra.Command {
	var host, profile, configFile string
	var tokenAuth bool
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
			if profile == "" {
				return usagef("--profile must not be empty")
			}
			path, err := dbapi.ConfigFilePath(dbapi.ConfigOptions{ConfigFile: configFile})
			if err != nil {
				return err
			}
			file, err := loadOrEmptyConfig(path)
			if err != nil {
				return err
			}
			sec := file.Section(profile)
			in := c.InOrStdin()
			fd, tty := terminalFd(in)
			r := bufio.NewReader(in)
			errw := c.ErrOrStderr()

			if host == "" {
				current := sec.Key("host").String()
				prompt := "Databricks Host (should begin with https://)"
				if current != "" {
					prompt += " [" + current + "]"
				}
				fmt.Fprint(errw, prompt+": ")
				line, err := readLine(r)
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read host: %w", err)
				}
				if !tty {
					fmt.Fprintln(errw)
				}
				host = strings.TrimSpace(line)
				if host == "" {
					host = current
				}
				if host == "" {
					return errors.New("no host given: type the server's URL, or pass --host")
				}
			}
			normHost, err := dbapi.NormalizeHost(host)
			if err != nil {
				return usageError{err}
			}

			fmt.Fprint(errw, "Token: ")
			var token string
			if tty {
				token, err = readHidden(c.Context(), fd, r, errw)
			} else {
				token, err = readLine(r)
				fmt.Fprintln(errw)
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read token: %w", err)
			}
			token = strings.TrimSpace(token)
			if token == "" {
				return errors.New("no token given: nothing written")
			}

			sec.Key("host").SetValue(normHost)
			sec.Key("token").SetValue(token)
			if err := writeConfigFile(path, file); err != nil {
				return err
			}
			fmt.Fprintf(errw, "Profile %s saved in %s\n", profile, path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&tokenAuth, "token", true, "authenticate with a personal access token (the only method hush supports)")
	fl.StringVar(&host, "host", "", "the server's URL, e.g. https://hush.example.com or http://127.0.0.1:8300")
	fl.StringVarP(&profile, "profile", "p", dbapi.DefaultProfile, "profile to write")
	fl.StringVar(&configFile, "config-file", "", "config file to write (default $DATABRICKS_CONFIG_FILE, then ~/.databrickscfg)")
	return cmd
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

// writeConfigFile replaces the file at path with f, atomically (a temporary
// file in the same directory, then a rename) and with mode 0600. ini.v1 does
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
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
