package jupyter

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// upper is a StringFunc that upper-cases ASCII letters.
func upper(dst, s []byte, _ StringContext) []byte {
	for _, c := range s {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func TestRewriteStringsIdentityIsByteExact(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, `""`, `0`, `-0.0`, `true`, `null`,
		` { "a" : [ 1 , 2.50 , -3e+10 , 12345678901234567890123 , 1.5E-300 ] } `,
		`{"html":"<b>&amp;</b>","esc":"\u00e9\/\"\\\n\t\u2028","astral":"\ud83d\ude00","lone":"\ud800x"}`,
		`{"nested":{"k":[{"x":{"y":[[["deep"]]]}}]},"num":1e400}`,
		"{\"raw\":\"caf\u00e9 \u2603\"}",
	}
	for _, in := range inputs {
		for _, fn := range []StringFunc{nil, func(dst, s []byte, _ StringContext) []byte { return append(dst, s...) }} {
			out, err := RewriteStrings(nil, []byte(in), fn)
			if err != nil {
				t.Fatalf("RewriteStrings(%s): %v", in, err)
			}
			if string(out) != in {
				t.Errorf("identity rewrite changed\n in: %s\nout: %s", in, out)
			}
		}
		if err := Valid([]byte(in)); err != nil {
			t.Errorf("Valid(%s) = %v", in, err)
		}
	}
}

func TestRewriteStringsChangesEveryStringOnly(t *testing.T) {
	in := `{"text":"abc","n":12345678901234567890,"list":["x",1.25,{"deep":"y\u00e9\n"}],"t":true,"z":null}`
	out, err := RewriteStrings([]byte("prefix:"), []byte(in), upper)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix:")) {
		t.Fatalf("dst prefix lost: %s", out)
	}
	out = out[len("prefix:"):]
	want := `{"TEXT":"ABC","N":12345678901234567890,"LIST":["X",1.25,{"DEEP":"Yé\n"}],"T":true,"Z":null}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	var a, b any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	if a.(map[string]any)["N"].(json.Number).String() != "12345678901234567890" {
		t.Errorf("number not kept exactly: %v", a.(map[string]any)["N"])
	}
}

func TestRewriteStringsNoHTMLEscapingAndValidUTF8(t *testing.T) {
	in := "{\"a\":\"<x>&\",\"bad\":\"\xff\xfeok\",\"ctl\":\"\\u0001\"}"
	out, err := RewriteStrings(nil, []byte(in), func(dst, s []byte, ctx StringContext) []byte {
		if ctx.IsKey {
			return append(dst, s...)
		}
		return append(append(dst, s...), '!')
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"<x>&!","bad":"\ufffd\ufffdok!","ctl":"\u0001!"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	// An untouched string with invalid UTF-8 is re-quoted, never copied raw.
	out, err = RewriteStrings(nil, []byte("[\"\xc3(\"]"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(out) || string(out) != `["\ufffd("]` {
		t.Fatalf("invalid UTF-8 passed through: %q", out)
	}
}

func TestRewriteStringsContext(t *testing.T) {
	in := `{"text":"a","k":{"text":"b"},"arr":["c"]}`
	type call struct {
		S     string
		Depth int
		IsKey bool
		Key   string
	}
	var calls []call
	_, err := RewriteStrings(nil, []byte(in), func(dst, s []byte, ctx StringContext) []byte {
		calls = append(calls, call{string(s), ctx.Depth, ctx.IsKey, string(ctx.Key)})
		return append(dst, s...)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []call{
		{"text", 1, true, ""}, {"a", 1, false, "text"},
		{"k", 1, true, ""}, {"text", 2, true, ""}, {"b", 2, false, "text"},
		{"arr", 1, true, ""}, {"c", 2, false, ""},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls\n got %+v\nwant %+v", calls, want)
	}
}

func TestRewriteStringsRenamesCollidingKeys(t *testing.T) {
	secretToX := func(dst, s []byte, _ StringContext) []byte {
		return append(dst, bytes.ReplaceAll(s, []byte("secret"), []byte("X"))...)
	}
	cases := []struct{ in, want string }{
		{`{"secret":1,"X":2}`, `{"X":1,"X (2)":2}`},
		{`{"X":1,"secret":2,"X (2)":3}`, `{"X":1,"X (3)":2,"X (2)":3}`},
		{`{"a":{"secret":1,"secret":2}}`, `{"a":{"X":1,"X (2)":2}}`},
		// No collision: no renaming, values rewritten in place.
		{`{"secret":"secret","b":1}`, `{"X":"X","b":1}`},
		// Collisions of untouched keys (duplicates in the input) are kept.
		{`{"a":1,"a":2}`, `{"a":1,"a":2}`},
	}
	for _, c := range cases {
		out, err := RewriteStrings(nil, []byte(c.in), secretToX)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if string(out) != c.want {
			t.Errorf("%s: got %s want %s", c.in, out, c.want)
		}
	}
}

func TestRewriteStringsMalformed(t *testing.T) {
	bad := []string{
		``, ` `, `{`, `}`, `[1,]`, `[1 2]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{"a":1}x`,
		`"abc`, `"a\q"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", `01`, `1.`, `1e`, `-`, `+1`, `.5`,
		`tru`, `nul`, `falsey`, `[`, `[[`, `{"a":[}`, `"\`, `NaN`, `Infinity`,
	}
	for _, in := range bad {
		_, err := RewriteStrings(nil, []byte(in), upper)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("RewriteStrings(%q) = %v, want a *SyntaxError", in, err)
			continue
		}
		if Valid([]byte(in)) == nil {
			t.Errorf("Valid(%q) = nil, want an error", in)
		}
		// Errors never quote the input (it may hold a secret).
		if len(in) > 3 {
			redacttest.AssertNoSecret(t, []byte(se.Error()), []byte(in))
		}
	}
}

func TestRewriteStringsDepthLimit(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if _, err := RewriteStrings(nil, []byte(deep), nil); err == nil {
		t.Fatal("nesting beyond MaxDepth accepted")
	}
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := RewriteStrings(nil, []byte(ok), nil); err != nil {
		t.Fatalf("nesting of MaxDepth refused: %v", err)
	}
}

func TestDecodeEscapes(t *testing.T) {
	cases := map[string]string{
		`"\ud83d\ude00"`: "\U0001F600",
		`"\ud800"`:       "\uFFFD",
		`"\udc00\ud800"`: "\uFFFD\uFFFD",
		`"\ud800\u0041"`: "\uFFFDA",
		`"a\/b\"\\"`:     `a/b"\`,
		`"\b\f\n\r\t"`:   "\b\f\n\r\t",
	}
	for in, want := range cases {
		var got []byte
		_, err := RewriteStrings(nil, []byte(in), func(dst, s []byte, _ StringContext) []byte {
			got = append([]byte(nil), s...)
			return append(dst, s...)
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("decode %s = %q, want %q", in, got, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t", "\x00\x1f\x7f", "é☃😀", "\u2028\u2029", "<&>"} {
		got := AppendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, got, err)
		}
		if back != s {
			t.Errorf("round trip of %q gave %q", s, back)
		}
		if bytes.Contains(got, []byte(`\u003c`)) {
			t.Errorf("HTML escaping added: %s", got)
		}
	}
}
