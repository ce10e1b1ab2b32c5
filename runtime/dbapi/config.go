package dbapi

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/ini.v1"
)

// Environment variables read by ResolveConfig, the same ones the Databricks
// SDKs and CLIs read.
const (
	EnvHost       = "DATABRICKS_HOST"
	EnvToken      = "DATABRICKS_TOKEN"
	EnvProfile    = "DATABRICKS_CONFIG_PROFILE"
	EnvConfigFile = "DATABRICKS_CONFIG_FILE"
)

// DefaultProfile is the profile used when none is named.
const DefaultProfile = "DEFAULT"

// DefaultConfigFileName is the config file looked up in the home directory.
const DefaultConfigFileName = ".databrickscfg"

// ErrNoHost is returned (wrapped) by ResolveConfig when no source names a host.
var ErrNoHost = errors.New("no host configured: set DATABRICKS_HOST or run hush configure")

// ErrNoToken is returned (wrapped) by ResolveConfig when a host is known but
// no source gives a token.
var ErrNoToken = errors.New("no token configured: set DATABRICKS_TOKEN or run hush configure --token")

// Config is what a Client needs to talk to a workspace: its base URL and a
// personal access token. Profile and ConfigFile tell where the values came
// from, for messages.
type Config struct {
	// Host is the normalised base URL, e.g. "https://dbc-123.cloud.databricks.com"
	// or "http://127.0.0.1:8300": a scheme, a host and no trailing slash.
	Host string
	// Token is the personal access token sent as "Authorization: Bearer".
	Token string
	// Profile is the config-file profile the values came from, if any.
	Profile string
	// ConfigFile is the path of the config file the values came from, if any.
	ConfigFile string
}

// String describes c without its token, so a Config can be printed safely.
func (c Config) String() string {
	tok := "unset"
	if c.Token != "" {
		tok = "set"
	}
	s := fmt.Sprintf("host=%s token=%s", c.Host, tok)
	if c.Profile != "" {
		s += fmt.Sprintf(" profile=%s file=%s", c.Profile, c.ConfigFile)
	}
	return s
}

// GoString is String, so %#v cannot print the token either.
func (c Config) GoString() string { return "dbapi.Config{" + c.String() + "}" }

// ConfigOptions are the inputs of ResolveConfig. Zero fields are looked up in
// the environment and then in the config file.
type ConfigOptions struct {
	// Host and Token given explicitly (command-line flags) win over everything.
	Host, Token string
	// Profile names the config-file section; an explicitly named profile must
	// exist. Default: $DATABRICKS_CONFIG_PROFILE, then DEFAULT.
	Profile string
	// ConfigFile is the INI file; default $DATABRICKS_CONFIG_FILE, then
	// HomeDir/.databrickscfg. A leading "~" is expanded to HomeDir.
	ConfigFile string
	// Getenv reads the environment; default os.Getenv. Tests inject a map.
	Getenv func(string) string
	// HomeDir is the user's home directory; default os.UserHomeDir().
	HomeDir string
}

// ResolveConfig finds the host and token the way the Databricks SDK does:
// explicit options first, then DATABRICKS_HOST / DATABRICKS_TOKEN, then the
// profile ($DATABRICKS_CONFIG_PROFILE, default DEFAULT) of the INI file at
// $DATABRICKS_CONFIG_FILE or ~/.databrickscfg. Each field is taken from the
// first source that has it. As in the SDK, when no profile is named and a host
// or token is already known from options or environment, the file is not read;
// a missing file or a missing DEFAULT profile is not an error, a missing named
// profile is. The host is normalised (see NormalizeHost).
func ResolveConfig(o ConfigOptions) (Config, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Config{Host: o.Host, Token: o.Token}
	if cfg.Host == "" {
		cfg.Host = strings.TrimSpace(getenv(EnvHost))
	}
	if cfg.Token == "" {
		cfg.Token = strings.TrimSpace(getenv(EnvToken))
	}
	profile := o.Profile
	if profile == "" {
		profile = getenv(EnvProfile)
	}
	explicitProfile := profile != ""
	if !explicitProfile {
		profile = DefaultProfile
	}
	if explicitProfile || (cfg.Host == "" && cfg.Token == "") {
		path, err := configFilePath(o.ConfigFile, getenv, o.HomeDir)
		if err != nil {
			return Config{}, err
		}
		sec, err := loadProfile(path, profile, explicitProfile)
		if err != nil {
			return Config{}, err
		}
		if sec != nil {
			if cfg.Host == "" {
				cfg.Host = strings.TrimSpace(sec.Key("host").String())
			}
			if cfg.Token == "" {
				cfg.Token = strings.TrimSpace(sec.Key("token").String())
			}
			cfg.Profile, cfg.ConfigFile = profile, path
		}
	}
	if cfg.Host == "" {
		return Config{}, ErrNoHost
	}
	host, err := NormalizeHost(cfg.Host)
	if err != nil {
		return Config{}, err
	}
	cfg.Host = host
	if cfg.Token == "" {
		if cfg.Profile != "" {
			return Config{}, fmt.Errorf("profile %s in %s has no token: %w", cfg.Profile, cfg.ConfigFile, ErrNoToken)
		}
		return Config{}, ErrNoToken
	}
	return cfg, nil
}

// ConfigFilePath returns the config file ResolveConfig and hush configure use
// for the given options: o.ConfigFile, else $DATABRICKS_CONFIG_FILE, else
// ~/.databrickscfg, with "~" expanded.
func ConfigFilePath(o ConfigOptions) (string, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return configFilePath(o.ConfigFile, getenv, o.HomeDir)
}

func configFilePath(path string, getenv func(string) string, home string) (string, error) {
	if path == "" {
		path = getenv(EnvConfigFile)
	}
	if path == "" {
		path = "~/" + DefaultConfigFileName
	}
	if path == "~" || strings.HasPrefix(path, "~/") {
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find home directory for %s: %w", path, err)
			}
			home = h
		}
		path = filepath.Join(home, strings.TrimPrefix(path[1:], "/"))
	}
	return path, nil
}

// LoadConfigFile parses a .databrickscfg file the way the Databricks SDK does:
// an inline comment needs a space before its '#' or ';', so tokens containing
// '#' survive.
func LoadConfigFile(path string) (*ini.File, error) {
	f, err := ini.LoadSources(ini.LoadOptions{SpaceBeforeInlineComment: true}, path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// loadProfile returns the named section of the file at path, or nil when the
// file or (for the implicit default profile) the section does not exist.
func loadProfile(path, profile string, explicit bool) (*ini.Section, error) {
	f, err := LoadConfigFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if explicit {
				return nil, fmt.Errorf("profile %s not found in %s: the file does not exist (run hush configure --profile %s)", profile, path, profile)
			}
			return nil, nil
		}
		return nil, fmt.Errorf("parse config file %s: %w", path, err)
	}
	sec, err := f.GetSection(profile)
	if err != nil || len(sec.Keys()) == 0 {
		if explicit {
			return nil, fmt.Errorf("profile %s not found in %s", profile, path)
		}
		return nil, nil
	}
	return sec, nil
}

// NormalizeHost turns what users type as a workspace host into a base URL:
// "https://" is added when there is no scheme, any path, query or trailing
// slash is dropped. Only http and https are accepted; http is meant for local
// servers such as "hush serve" on 127.0.0.1.
func NormalizeHost(host string) (string, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return "", ErrNoHost
	}
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", fmt.Errorf("invalid host %q: %w", host, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("invalid host %q: the scheme must be http or https", host)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("invalid host %q: no host name", host)
	}
	if u.User != nil {
		return "", fmt.Errorf("invalid host %q: credentials in the URL are not supported, use a token", u.Redacted())
	}
	return (&url.URL{Scheme: scheme, Host: u.Host}).String(), nil
}
