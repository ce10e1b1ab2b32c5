package server_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

// Client item "HTTP Basic with user name token": Databricks accepts HTTP
// Basic with the user name "token" and a PAT as the password (curl -n with
// a .netrc, curl -u token:$PAT). Any other user name, or a wrong password,
// is 401.
func TestBasicAuthWithUserToken(t *testing.T) {
	s := servertest.Start(t)
	get := func(user, pass string) int {
		req, err := http.NewRequest("GET", s.URL+pScopes, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("token", s.AdminToken); got != 200 {
		t.Errorf("Basic token:<PAT>: %d, want 200", got)
	}
	if got := get("admin", s.AdminToken); got != 401 {
		t.Errorf("Basic admin:<PAT>: %d, want 401", got)
	}
	if got := get("token", "dapi0123456789abcdef0123456789abcdef"); got != 401 {
		t.Errorf("Basic token:<unknown PAT>: %d, want 401", got)
	}

	// The real curl, with a .netrc, as in Databricks' older docs.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("SKIPPED: curl is not installed; the curl -n half of this test did not run")
	}
	netrc := filepath.Join(t.TempDir(), "netrc")
	host := strings.TrimPrefix(s.URL, "http://")
	host = host[:strings.LastIndexByte(host, ':')]
	if err := os.WriteFile(netrc, []byte("machine "+host+"\nlogin token\npassword "+s.AdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(curl, "-sS", "--netrc-file", netrc, "-o", "/dev/null", "-w", "%{http_code}", s.URL+pScopes).Output()
	if err != nil {
		t.Fatalf("curl --netrc-file: %v", err)
	}
	if string(out) != "200" {
		t.Errorf("curl --netrc-file: %s, want 200", out)
	}
}
