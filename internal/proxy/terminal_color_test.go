package proxy

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// sgrOrCSI matches the escape sequences grep --color=always writes.
var sgrOrCSI = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]`)

// TestTerminalGrepColourAtEverySplit: the real output of grep
// --color=always, whose SGR codes cut the secret in three, sent as two
// terminado "stdout" messages split at every byte, shows [REDACTED] and
// never the secret, in the bytes or in the text a terminal shows.
func TestTerminalGrepColourAtEverySplit(t *testing.T) {
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Skip("SKIP: grep not found")
	}
	cmd := exec.Command(grep, "--color=always", "secret")
	cmd.Stdin = strings.NewReader("DB_PASSWORD=" + secret + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("grep: %v", err)
	}
	if redacttest.Leaked(out, []byte(secret)) != nil || redacttest.Leaked(sgrOrCSI.ReplaceAll(out, nil), []byte(secret)) == nil {
		t.Fatal("fixture: grep's colour codes should cut the secret, which shows once they are taken out")
	}
	fx := newFixture(t, Options{})
	for i := 0; i <= len(out); i++ {
		ts := newTerminalStream(fx.proxy)
		var frames []frame
		for _, part := range [][]byte{out[:i], out[i:]} {
			msg, _ := json.Marshal([]string{"stdout", string(part)})
			frames = append(frames, ts.process(websocket.TextMessage, msg)...)
		}
		frames = append(frames, ts.flush()...)
		var got bytes.Buffer
		for _, f := range frames {
			var m []string
			if err := json.Unmarshal(f.data, &m); err != nil || len(m) != 2 || m[0] != "stdout" {
				t.Fatalf("split %d: a frame that is not terminado stdout", i)
			}
			got.WriteString(m[1])
		}
		shown := sgrOrCSI.ReplaceAll(got.Bytes(), nil)
		if !redacttest.AssertNoSecretIn(t, map[string][]byte{"terminal bytes": got.Bytes(), "shown text": shown}, []byte(secret)) {
			t.Fatalf("split %d leaks", i)
		}
		if string(shown) != "DB_PASSWORD=[REDACTED]\n" {
			t.Fatalf("split %d: the terminal shows %q", i, shown)
		}
	}
}
