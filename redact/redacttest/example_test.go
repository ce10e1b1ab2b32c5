package redacttest_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// perWrite is a broken redactor: it replaces secrets within each Write on
// its own.
type perWrite struct {
	w io.Writer
	r *strings.Replacer
}

func (p perWrite) Write(b []byte) (int, error) {
	_, err := io.WriteString(p.w, p.r.Replace(string(b)))
	return len(b), err
}

func (perWrite) Close() error { return nil }

// CheckSplits proves a writer right for every chunking of an output, and
// shows where a broken one leaks.
func ExampleCheckSplits() {
	secret := []byte("tok_4f9Q2xZ7kL0pW3v8")
	output := []byte("token=tok_4f9Q2xZ7kL0pW3v8\n")

	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	if err := r.Add(secret); err != nil {
		fmt.Println(err)
		return
	}
	hush := func(w io.Writer) io.WriteCloser { return r.NewWriter(w) }
	fmt.Println("redact.Writer:", redacttest.CheckSplits(hush, output, [][]byte{secret}, true))

	naive := func(w io.Writer) io.WriteCloser {
		return perWrite{w, strings.NewReplacer(string(secret), redact.Token)}
	}
	fmt.Println("per-write replacer:", redacttest.CheckSplits(naive, output, [][]byte{secret}, true))
	// Output:
	// redact.Writer: <nil>
	// per-write replacer: input split at [7]: output leaks secrets[0] (raw form, 20 bytes) at offset 6
}

// FindLeak finds derived forms too, and describes them without the value.
func ExampleFindLeak() {
	out := []byte(`{"auth": "Basic YWxpY2U6czNjcjN0LXA0c3M="}`)
	secrets := [][]byte{[]byte("s3cr3t-p4ss")}
	fmt.Println(redacttest.FindLeak(out, secrets, nil))
	fmt.Println(redacttest.FindLeak(out, secrets, redact.AllEncodings()))
	// Output:
	// <nil>
	// secrets[0] (base64-std form, 14 bytes) at offset 24
}

// Leaked tells a test whether and how an output shows a secret, without
// failing: here, a sanity check that the unfiltered path does leak, so the
// test of the filtered path proves something.
func ExampleLeaked() {
	secret := []byte("s3cr3t p4ss/word")
	unfiltered := []byte("https://db.example/?password=s3cr3t+p4ss%2Fword")
	filtered := []byte("password=[REDACTED]")
	fmt.Println(redacttest.Leaked(unfiltered, secret))
	fmt.Println(redacttest.Leaked(filtered, secret))
	// Output:
	// secrets[0] (url-query form, 18 bytes) at offset 29
	// <nil>
}
