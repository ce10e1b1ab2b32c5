package redact_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/hush-secrets/hush/redact"
)

// A Redactor replaces each secret, and the forms code turns it into, with
// [REDACTED]; values too short to redact safely are refused.
func Example() {
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	if err := r.Add([]byte(`pa"ss-w0rd!?`)); err != nil {
		fmt.Println(err)
		return
	}
	out := r.Redact(nil, []byte(`print: pa"ss-w0rd!? json: {"pw": "pa\"ss-w0rd!?"} base64: cGEic3MtdzByZCE/`))
	fmt.Println(string(out))

	err := r.Add([]byte("42"))
	fmt.Println(errors.Is(err, redact.ErrTooShort))
	// Output:
	// print: [REDACTED] json: {"pw": "[REDACTED]"} base64: [REDACTED]
	// true
}

// A Writer redacts a stream: a secret split across writes is still
// replaced, and bytes that cannot start a secret leave at once.
func ExampleWriter() {
	r := redact.New(redact.Options{})
	if err := r.Add([]byte("tok_4f9Q2xZ7")); err != nil {
		fmt.Println(err)
		return
	}
	w := r.NewWriter(os.Stdout)
	for _, chunk := range []string{"token=tok_4f", "9Q2xZ7 ok\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	// Output: token=[REDACTED] ok
}
