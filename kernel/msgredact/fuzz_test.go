package msgredact

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// FuzzFrameFilter feeds arbitrary frames (seeded with every captured one)
// through a FrameFilter: it never panics, every frame it emits decodes, and
// no emitted content, metadata or buffer holds the secret, whatever the
// input looked like.
func FuzzFrameFilter(f *testing.F) {
	for _, format := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		files, _ := filepath.Glob(filepath.Join(fixtureDir, format.String(), "*.json"))
		for _, file := range files {
			for _, fr := range loadScenario(f, file) {
				f.Add(format == jupyter.FormatV1, fr.Binary, fr.Data)
			}
		}
	}
	r := newRedactor(f, secret)
	// The raw secret, in every string and buffer: what the filter must
	// guarantee for any input. Derived forms are checked on the captured
	// scenarios (replay_test.go).
	secrets := [][]byte{[]byte(secret)}
	f.Fuzz(func(t *testing.T, v1, binary bool, data []byte) {
		format := jupyter.FormatLegacy
		if v1 {
			format = jupyter.FormatV1
		}
		ff := NewFrameFilter(format, r)
		// The frame twice: once alone, once after a held prefix of the secret.
		out, _ := ff.Process(jupyter.Frame{Binary: binary, Data: data})
		if pre, err := format.Encode(streamMsg("h", "p", "stdout", "hello-")); err == nil {
			more, _ := ff.Process(pre)
			out = append(out, more...)
		}
		more, _ := ff.Process(jupyter.Frame{Binary: binary, Data: data})
		out = append(out, more...)
		out = append(out, ff.Close()...)
		var text bytes.Buffer
		for i, fr := range out {
			m, err := format.Decode(fr)
			if err != nil {
				t.Fatalf("output frame %d does not decode: %v", i, err)
			}
			for _, b := range m.Buffers {
				if l := redacttest.FindLeak(b, secrets, nil); l != nil {
					t.Fatalf("output frame %d: a buffer leaks %v", i, l)
				}
			}
			for _, part := range [][]byte{m.Content, m.Metadata} {
				_, err := jupyter.RewriteStrings(nil, part, func(dst, s []byte, ctx jupyter.StringContext) []byte {
					if l := redacttest.FindLeak(s, secrets, nil); l != nil && !(ctx.IsKey && ctx.Depth == 1 && bytes.Equal(part, m.Content)) {
						t.Fatalf("output frame %d: a string leaks %v", i, l)
					}
					return dst
				})
				if err != nil {
					t.Fatalf("output part does not parse: %v", err)
				}
			}
			if m.Type() == "stream" && m.ParentID() == "p" {
				s, _ := jupyter.StringMember(m.Content, "text")
				text.WriteString(s)
			}
		}
		if l := redacttest.FindLeak(text.Bytes(), secrets, nil); l != nil {
			t.Fatalf("stream text of parent p leaks across messages: %v", l)
		}
	})
}
