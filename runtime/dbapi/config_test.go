package dbapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/redact/redacttest"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeCfg(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, ".databrickscfg")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const sampleCfg = `; a comment
[DEFAULT]
host  = https://default.example.com/
token = dapi-default

[dev]
host = http://127.0.0.1:8300
token = dapi#dev  # inline comment after a space

[hostonly]
host = hostonly.example.com
`

func TestResolveConfigSources(t *testing.T) {
	home := t.TempDir()
	writeCfg(t, home, sampleCfg)
	other := t.TempDir()
	otherFile := writeCfg(t, other, "[DEFAULT]\nhost = other.example.com\ntoken = dapi-other\n")

	tests := []struct {
		name    string
		opts    ConfigOptions
		env     map[string]string
		want    Config
		wantErr string
	}{
		{
			name: "default profile of ~/.databrickscfg",
			want: Config{Host: "https://default.example.com", Token: "dapi-default", Profile: "DEFAULT", ConfigFile: filepath.Join(home, ".databrickscfg")},
		},
		{
			name: "environment host and token skip the file",
			env:  map[string]string{EnvHost: "env.example.com", EnvToken: "dapi-env"},
			want: Config{Host: "https://env.example.com", Token: "dapi-env"},
		},
		{
			name: "explicit options win over environment",
			opts: ConfigOptions{Host: "http://flag.example.com:99/x/", Token: "dapi-flag"},
			env:  map[string]string{EnvHost: "env.example.com", EnvToken: "dapi-env"},
			want: Config{Host: "http://flag.example.com:99", Token: "dapi-flag"},
		},
		{
			name: "profile from environment; '#' without a space stays in the token",
			env:  map[string]string{EnvProfile: "dev"},
			want: Config{Host: "http://127.0.0.1:8300", Token: "dapi#dev", Profile: "dev", ConfigFile: filepath.Join(home, ".databrickscfg")},
		},
		{
			name: "explicit profile beats the environment's profile",
			opts: ConfigOptions{Profile: "DEFAULT"},
			env:  map[string]string{EnvProfile: "dev"},
			want: Config{Host: "https://default.example.com", Token: "dapi-default", Profile: "DEFAULT", ConfigFile: filepath.Join(home, ".databrickscfg")},
		},
		{
			name: "environment token fills in a named profile without one; env host wins over the profile",
			opts: ConfigOptions{Profile: "hostonly"},
			env:  map[string]string{EnvToken: "dapi-env"},
			want: Config{Host: "https://hostonly.example.com", Token: "dapi-env", Profile: "hostonly", ConfigFile: filepath.Join(home, ".databrickscfg")},
		},
		{
			name: "environment values win over the named profile",
			opts: ConfigOptions{Profile: "dev"},
			env:  map[string]string{EnvHost: "http://env:1"},
			want: Config{Host: "http://env:1", Token: "dapi#dev", Profile: "dev", ConfigFile: filepath.Join(home, ".databrickscfg")},
		},
		{
			name: "DATABRICKS_CONFIG_FILE",
			env:  map[string]string{EnvConfigFile: otherFile},
			want: Config{Host: "https://other.example.com", Token: "dapi-other", Profile: "DEFAULT", ConfigFile: otherFile},
		},
		{
			name: "explicit config file beats DATABRICKS_CONFIG_FILE",
			opts: ConfigOptions{ConfigFile: otherFile},
			env:  map[string]string{EnvConfigFile: "/nonexistent"},
			want: Config{Host: "https://other.example.com", Token: "dapi-other", Profile: "DEFAULT", ConfigFile: otherFile},
		},
		{
			name:    "named profile missing",
			opts:    ConfigOptions{Profile: "nope"},
			wantErr: "profile nope not found in " + filepath.Join(home, ".databrickscfg"),
		},
		{
			name:    "named profile, no file",
			opts:    ConfigOptions{Profile: "dev", ConfigFile: filepath.Join(other, "missing")},
			wantErr: "profile dev not found in " + filepath.Join(other, "missing"),
		},
		{
			name:    "nothing anywhere",
			opts:    ConfigOptions{ConfigFile: filepath.Join(other, "missing")},
			wantErr: "no host configured: set DATABRICKS_HOST or run hush configure",
		},
		{
			name:    "host without token",
			env:     map[string]string{EnvHost: "h.example.com"},
			wantErr: "no token configured",
		},
		{
			name:    "profile without token",
			opts:    ConfigOptions{Profile: "hostonly"},
			wantErr: "profile hostonly in " + filepath.Join(home, ".databrickscfg") + " has no token",
		},
		{
			name:    "bad scheme",
			env:     map[string]string{EnvHost: "ftp://x", EnvToken: "t"},
			wantErr: "scheme must be http or https",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Getenv = envMap(tt.env)
			o.HomeDir = home
			got, err := ResolveConfig(o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestResolveConfigErrorsAreMatchable(t *testing.T) {
	_, err := ResolveConfig(ConfigOptions{Getenv: envMap(nil), HomeDir: t.TempDir()})
	if !errors.Is(err, ErrNoHost) {
		t.Fatalf("err = %v, want ErrNoHost", err)
	}
	_, err = ResolveConfig(ConfigOptions{Host: "h", Getenv: envMap(nil), HomeDir: t.TempDir()})
	if !errors.Is(err, ErrNoToken) {
		t.Fatalf("err = %v, want ErrNoToken", err)
	}
}

func TestResolveConfigUnparsableFile(t *testing.T) {
	home := t.TempDir()
	writeCfg(t, home, "[DEFAULT\nhost = x\n")
	_, err := ResolveConfig(ConfigOptions{Getenv: envMap(nil), HomeDir: home})
	if err == nil || !strings.Contains(err.Error(), "parse config file") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigNeverPrintsToken(t *testing.T) {
	c := Config{Host: "https://h", Token: "dapi-very-secret"}
	redacttest.AssertNoSecretIn(t, map[string][]byte{
		"String()": []byte(c.String()),
		"%v":       []byte(fmt.Sprintf("%v", c)),
		"%+v":      []byte(fmt.Sprintf("%+v", c)),
		"%#v":      []byte(fmt.Sprintf("%#v", c)),
	}, []byte("dapi-very-secret"))
}

func TestNormalizeHost(t *testing.T) {
	good := map[string]string{
		"dbc-1.cloud.databricks.com":          "https://dbc-1.cloud.databricks.com",
		"https://dbc-1.cloud.databricks.com/": "https://dbc-1.cloud.databricks.com",
		"HTTPS://Example.com/?o=123":          "https://Example.com",
		"http://127.0.0.1:8300":               "http://127.0.0.1:8300",
		" http://localhost:1/api/2.0 ":        "http://localhost:1",
		"[::1]:8300":                          "https://[::1]:8300",
	}
	for in, want := range good {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for i, in := range []string{"", "ftp://x", "https://", "http://user:pw@host"} {
		got, err := NormalizeHost(in)
		if err == nil {
			t.Errorf("NormalizeHost(bad[%d]) = %q, want error", i, got)
			continue
		}
		redacttest.AssertNoSecretIn(t, map[string][]byte{fmt.Sprintf("the error for bad[%d]", i): []byte(err.Error())}, []byte("pw"))
	}
}

func TestConfigFilePathExpandsHome(t *testing.T) {
	got, err := ConfigFilePath(ConfigOptions{ConfigFile: "~/cfg/x", Getenv: envMap(nil), HomeDir: "/home/u"})
	if err != nil || got != "/home/u/cfg/x" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = ConfigFilePath(ConfigOptions{Getenv: envMap(nil), HomeDir: "/home/u"})
	if err != nil || got != "/home/u/.databrickscfg" {
		t.Fatalf("got %q, %v", got, err)
	}
}
