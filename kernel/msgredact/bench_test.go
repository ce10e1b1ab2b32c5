package msgredact

import (
	"fmt"
	"testing"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// benchRedactor holds n secrets with every derived encoding.
func benchRedactor(b *testing.B, n int) *redact.Redactor {
	b.Helper()
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	for i := 0; i < n; i++ {
		if err := r.Add([]byte(fmt.Sprintf("secret-value-%06d-xyz", i))); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// BenchmarkFrameFilterStreamLine is the proxy's hot path: one short stream
// line per v1 frame, decoded, redacted and re-encoded, 1,000 secrets.
func BenchmarkFrameFilterStreamLine(b *testing.B) {
	r := benchRedactor(b, 1000)
	for _, format := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		b.Run(format.String(), func(b *testing.B) {
			fr, err := format.Encode(streamMsg("m", "p", "stdout", "line 12345 of the output of a cell\n"))
			if err != nil {
				b.Fatal(err)
			}
			ff := NewFrameFilter(format, r)
			b.SetBytes(int64(len(fr.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ff.Process(fr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFrameFilterDisplayData redacts a rich display_data message.
func BenchmarkFrameFilterDisplayData(b *testing.B) {
	r := benchRedactor(b, 1000)
	m := msg("display_data", "d", "p", `{"data": {"text/plain": "<Figure>", "text/html": "<table><tr><td>a</td><td>b</td></tr></table>",
		"application/json": {"rows": [{"k": "v1", "n": 1}, {"k": "v2", "n": 2}, {"k": "v3", "n": 3}]}}, "metadata": {}, "transient": {"display_id": "x"}}`)
	fr, err := jupyter.FormatV1.Encode(m)
	if err != nil {
		b.Fatal(err)
	}
	ff := NewFrameFilter(jupyter.FormatV1, r)
	b.SetBytes(int64(len(fr.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ff.Process(fr); err != nil {
			b.Fatal(err)
		}
	}
}
