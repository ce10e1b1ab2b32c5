package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// formCase is one row of a form's table: a secret and the needle the form
// must produce (nil: the form gives nothing for this secret).
type formCase struct {
	in, want string
	none     bool // the form must return nil
}

// checkForm runs one form function over its table.
func checkForm(t *testing.T, f func([]byte) []byte, cases []formCase) {
	t.Helper()
	for _, c := range cases {
		got := f([]byte(c.in))
		if c.none {
			if got != nil {
				t.Errorf("%q: got %q, want nil", c.in, got)
			}
			continue
		}
		if string(got) != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJSONGo(t *testing.T) {
	checkForm(t, jsonGo, []formCase{
		{in: "plain", want: "plain"},
		{in: `a"b\c`, want: `a\"b\\c`},
		{in: "<a&b>", want: `\u003ca\u0026b\u003e`},
		{in: "\b\f\n\r\t", want: `\b\f\n\r\t`},
		{in: "\x00\x1f\x7f", want: "\\u0000\\u001f\x7f"},
		{in: "x\u2028y\u2029", want: `x\u2028y\u2029`},
		{in: "ü😀'", want: "ü😀'"},
		{in: "a\xffb\xc3", want: `a\ufffdb\ufffd`},
	})
}

func TestJSONGoNoHTML(t *testing.T) {
	checkForm(t, jsonGoNoHTML, []formCase{
		{in: "<a&b>", want: "<a&b>"},
		{in: `"<\>"`, want: `\"<\\>\"`},
		{in: "\x01\u2028", want: `\u0001\u2028`},
		{in: "\xfe", want: `\ufffd`},
	})
}

func TestJSONPython(t *testing.T) {
	checkForm(t, jsonPython, []formCase{
		{in: "plain <&> '", want: "plain <&> '"},
		{in: `a"b\c`, want: `a\"b\\c`},
		{in: "a\x00\x1f\x7f\b\f\n\r\t", want: `a\u0000\u001f\u007f\b\f\n\r\t`},
		{in: "ü😀", want: `\u00fc\ud83d\ude00`},
		{in: "\u2028\ue000\U000e0001", want: `\u2028\ue000\udb40\udc01`},
		{in: "bad\xff", none: true},
	})
}

func TestJSONPythonUTF8(t *testing.T) {
	checkForm(t, jsonPythonUTF8, []formCase{
		{in: "ü😀 <&>", want: "ü😀 <&>"},
		{in: `a"b\c`, want: `a\"b\\c`},
		{in: "a\x00\x1f\x7f\b\f\n\r\t", want: "a\\u0000\\u001f\x7f\\b\\f\\n\\r\\t"},
		{in: "\u2028", want: "\u2028"},
		{in: "\xc3", none: true},
	})
}

func TestPythonRepr(t *testing.T) {
	checkForm(t, pythonRepr, []formCase{
		// Python picks " as the quote when the string has ' and no ".
		{in: "it's", want: "it's"},
		{in: `say "hi"`, want: `say "hi"`},
		{in: `both ' and "`, want: `both \' and "`},
		{in: `back\slash`, want: `back\\slash`},
		{in: "a\x00\x1f\x7f\b\f\n\r\t", want: `a\x00\x1f\x7f\x08\x0c\n\r\t`},
		{in: "ü😀中", want: "ü😀中"},
		{in: "\u00a0\u00ad\ue000\U000e0001\u2028", want: `\xa0\xad\ue000\U000e0001\u2028`},
		{in: "\xff", none: true},
	})
}

func TestHTMLPython(t *testing.T) {
	checkForm(t, htmlPython, []formCase{
		{in: `<a href="x">'&'</a>`, want: "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"},
		{in: "&amp;", want: "&amp;amp;"},
		{in: "\xff<", none: true},
	})
}

func TestHTMLGo(t *testing.T) {
	checkForm(t, htmlGo, []formCase{
		{in: `<a href="x">'&'</a>`, want: "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"},
		{in: "\xff<", want: "\xff&lt;"},
	})
}

func TestURLPercent(t *testing.T) {
	checkForm(t, urlPercent, []formCase{
		{in: "Pass word 123!", want: "Pass%20word%20123%21"},
		{in: "AZaz09-._~", want: "AZaz09-._~"},
		{in: "a/b?c=d&e+f", want: "a%2Fb%3Fc%3Dd%26e%2Bf"},
		{in: "ü\xff", want: "%C3%BC%FF"},
	})
}

func TestURLPercentLower(t *testing.T) {
	checkForm(t, urlPercentLower, []formCase{
		{in: "Pass word 123!", want: "Pass%20word%20123%21"},
		{in: "ü/:", want: "%c3%bc%2f%3a"},
	})
}

func TestURLQuery(t *testing.T) {
	checkForm(t, urlQuery, []formCase{
		{in: "Pass word 123!", want: "Pass+word+123%21"},
		{in: "a/b+c~", want: "a%2Fb%2Bc~"},
	})
}

func TestBase64Std(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		// From the vectors (jenkins-base64-*, syn-base64-trailing-newline).
		{"abcd", []string{"YWJjZ", "FiY2", "hYmNk"}},
		{"bcd", []string{"YmNk", "JjZ", "iY2"}},
		{"1234", []string{"MTIzN", "EyMz", "xMjM0"}},
		{"???>>>~~~abc", []string{"Pz8/Pj4+fn5+YWJj", "8/Pz4+Pn5+fmFiY", "/Pz8+Pj5+fn5hYm"}},
		// One byte: only alignment 0 and 2 have a character made of its bits alone.
		{"a", []string{"Y", "h"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := base64Std([]byte(tt.in))
		if !slices.Equal(toStrings(got), tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBase64URL(t *testing.T) {
	got := base64URL([]byte("???>>>~~~abc"))
	want := []string{"Pz8_Pj4-fn5-YWJj", "8_Pz4-Pn5-fmFiY", "_Pz8-Pj5-fn5hYm"}
	if !slices.Equal(toStrings(got), want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHexLower(t *testing.T) {
	checkForm(t, hexLower, []formCase{
		{in: "Secret-Key-9", want: "5365637265742d4b65792d39"},
		{in: "\x00\xff", want: "00ff"},
	})
}

func TestHexUpper(t *testing.T) {
	checkForm(t, hexUpper, []formCase{
		{in: "Secret-Key-9", want: "5365637265742D4B65792D39"},
		{in: "\x00\xff", want: "00FF"},
	})
}

func TestCRLF(t *testing.T) {
	checkForm(t, crlf, []formCase{
		{in: "a\nb\n", want: "a\r\nb\r\n"},
		{in: "a\r\nb", want: "a\r\r\nb"},
		{in: "no newline", none: true},
	})
}

func toStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func TestAllEncodingsAndParse(t *testing.T) {
	all := AllEncodings()
	want := []Encoding{"json-go", "json-go-nohtml", "json-python", "json-python-utf8", "python-repr",
		"html-python", "html-go", "url-percent", "url-percent-lower", "url-query",
		"base64-std", "base64-url", "hex-lower", "hex-upper", "crlf",
		"url-quote", "url-path-go", "python-bytes", "latex", "html-text", "base64-wrapped", "lines"}
	if !slices.Equal(all, want) {
		t.Fatalf("AllEncodings() = %q, want %q", all, want)
	}
	all[0] = "changed"
	if AllEncodings()[0] != EncodingJSONGo {
		t.Fatal("AllEncodings returns a shared slice")
	}
	for _, e := range append(want, EncodingRaw) {
		got, err := ParseEncoding(string(e))
		if err != nil || got != e {
			t.Errorf("ParseEncoding(%q) = %q, %v", e, got, err)
		}
	}
	for _, bad := range []string{"", "JSON-GO", "base64", "json-go "} {
		if _, err := ParseEncoding(bad); err == nil {
			t.Errorf("ParseEncoding(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "base64-std") {
			t.Errorf("ParseEncoding(%q) error does not list the known names: %v", bad, err)
		}
	}
}

func TestDeriveContract(t *testing.T) {
	if got := Derive(EncodingRaw, []byte("secret-value")); got != nil {
		t.Errorf("Derive(raw) = %q, want nil", got)
	}
	if got := Derive("nope", []byte("secret-value")); got != nil {
		t.Errorf("Derive(unknown) = %q, want nil", got)
	}
	// A form that leaves the secret unchanged adds nothing.
	if got := Derive(EncodingJSONGo, []byte("plain-secret")); got != nil {
		t.Errorf("Derive(json-go, plain) = %q, want nil", got)
	}
	if got := Derive(EncodingCRLF, []byte("one line")); got != nil {
		t.Errorf("Derive(crlf, no LF) = %q, want nil", got)
	}
	if got := Derive(EncodingPythonRepr, []byte("bad\xff\n")); got != nil {
		t.Errorf("Derive(python-repr, invalid UTF-8) = %q, want nil", got)
	}
	// Degenerate secret whose base64 alignments coincide: deduplicated.
	// "\x00\x00\x00…": every alignment is a run of 'A'.
	zeros := make([]byte, 12)
	got := Derive(EncodingBase64Std, zeros)
	for i := range got {
		for j := range i {
			if bytes.Equal(got[i], got[j]) {
				t.Errorf("duplicate needle %q", got[i])
			}
		}
	}
	// Properties over random secrets: needles are non-empty, distinct and
	// never the raw secret.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		s := randomSecret(rng, 1+rng.IntN(24))
		for _, enc := range AllEncodings() {
			ns := Derive(enc, s)
			for i, n := range ns {
				if len(n) == 0 || bytes.Equal(n, s) {
					t.Fatalf("Derive(%s, %q) returned %q", enc, s, n)
				}
				for _, m := range ns[:i] {
					if bytes.Equal(m, n) {
						t.Fatalf("Derive(%s, %q) duplicates %q", enc, s, n)
					}
				}
			}
		}
	}
}

// randomSecret returns n random bytes drawn mostly from characters that
// the forms treat specially, sometimes arbitrary bytes (invalid UTF-8).
func randomSecret(rng *rand.Rand, n int) []byte {
	pieces := []string{"a", "Z", "0", "-", "_", ".", "~", " ", "!", "+", "/", "=", "%", "&", "<", ">",
		`"`, "'", `\`, "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "ü", "€", "😀", "\u2028", "\u00a0", "\ue000"}
	var s []byte
	for len(s) < n {
		if rng.IntN(8) == 0 {
			s = append(s, byte(rng.IntN(256)))
			continue
		}
		s = append(s, pieces[rng.IntN(len(pieces))]...)
	}
	return s
}

// TestDeriveMatchesGoEncoders compares the forms that Go's standard library
// also implements against it, over random secrets (invalid UTF-8 included).
func TestDeriveMatchesGoEncoders(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		s := randomSecret(rng, rng.IntN(32))

		m, err := json.Marshal(string(s))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonGo(s), m[1:len(m)-1]; !bytes.Equal(got, want) {
			t.Fatalf("jsonGo(%q) = %q, encoding/json says %q", s, got, want)
		}

		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string(s)); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := jsonGoNoHTML(s); !bytes.Equal(got, want[1:len(want)-1]) {
			t.Fatalf("jsonGoNoHTML(%q) = %q, json.Encoder says %q", s, got, want)
		}

		if got, want := string(urlQuery(s)), url.QueryEscape(string(s)); got != want {
			t.Fatalf("urlQuery(%q) = %q, url.QueryEscape says %q", s, got, want)
		}
		if got, want := string(htmlGo(s)), html.EscapeString(string(s)); got != want {
			t.Fatalf("htmlGo(%q) = %q, html.EscapeString says %q", s, got, want)
		}
		if got, want := string(hexLower(s)), hex.EncodeToString(s); got != want {
			t.Fatalf("hexLower(%q) = %q, want %q", s, got, want)
		}
		if got, want := string(hexUpper(s)), strings.ToUpper(hex.EncodeToString(s)); got != want {
			t.Fatalf("hexUpper(%q) = %q, want %q", s, got, want)
		}
		// url-percent: decoding gives the secret back, and nothing but
		// unreserved characters and %XX escapes remain.
		pe := urlPercent(s)
		if dec, err := url.PathUnescape(string(pe)); err != nil || dec != string(s) {
			t.Fatalf("urlPercent(%q) = %q does not decode back (%v)", s, pe, err)
		}
		for i := 0; i < len(pe); i++ {
			if pe[i] == '%' {
				i += 2
				continue
			}
			if !unreserved(pe[i]) {
				t.Fatalf("urlPercent(%q) = %q keeps reserved byte %q", s, pe, pe[i])
			}
		}
		if got, want := urlPercentLower(s), bytes.ToLower(pe); !bytes.Equal(bytes.ToLower(got), want) {
			t.Fatalf("urlPercentLower(%q) = %q", s, got)
		}
	}
}

// TestBase64InStream checks the definition of the base64 forms with the
// real encoder: whatever bytes surround the secret, the base64 of the whole
// contains the needle of the secret's alignment, at the first character
// made only of secret bits, and that needle is one Derive returns.
func TestBase64InStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	encs := []struct {
		name Encoding
		enc  *base64.Encoding
	}{{EncodingBase64Std, base64.StdEncoding}, {EncodingBase64URL, base64.URLEncoding}}
	for range 3000 {
		secret := make([]byte, 1+rng.IntN(40))
		for i := range secret {
			secret[i] = byte(rng.IntN(256))
		}
		prefix := make([]byte, rng.IntN(7))
		suffix := make([]byte, rng.IntN(7))
		for i := range prefix {
			prefix[i] = byte(rng.IntN(256))
		}
		for i := range suffix {
			suffix[i] = byte(rng.IntN(256))
		}
		whole := slices.Concat(prefix, secret, suffix)
		// Secret bits are bits [8p, 8(p+n)) of the stream; character i
		// holds bits [6i, 6i+6).
		first := (8*len(prefix) + 5) / 6
		end := 8 * (len(prefix) + len(secret)) / 6
		if end <= first {
			continue // a 1-byte secret at alignment 1 owns no whole character
		}
		for _, e := range encs {
			run := e.enc.EncodeToString(whole)[first:end]
			if run != string(secret) && !containsNeedle(Derive(e.name, secret), []byte(run)) {
				t.Fatalf("%s: base64 of prefix(%d)+secret(%d)+suffix(%d) holds run %q at %d, not among Derive's needles %q",
					e.name, len(prefix), len(secret), len(suffix), run, first, Derive(e.name, secret))
			}
		}
	}
}

// vectorFile is the part of the shared vectors file these tests read.
type vectorFile struct {
	Encoded []struct {
		Name           string   `json:"name"`
		Secrets        []string `json:"secrets"`
		Encodings      []string `json:"encodings"`
		DerivedNeedles []string `json:"derived_needles"`
		BytesEncoding  string   `json:"bytes_encoding"`
	} `json:"encoded"`
}

// loadVectors reads the encoded part of the redaction vectors (vectorsData).
func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	data := vectorsData(t)
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(vf.Encoded) == 0 {
		t.Fatal("vectors file has no encoded vectors")
	}
	return vf
}

// otherForms are test-only references for the forms of the vectors that
// hush does not implement (they model other products' escaping), so that
// every needle of a vector can be attributed to some form. A nil function
// means the form is described by derived_patterns only.
var otherForms = map[string]func(s string) []string{
	"bk-multiline-ws":   nil,
	"backslash-dquote":  func(s string) []string { return []string{strings.ReplaceAll(s, `"`, `\"`)} },
	"expression-squote": func(s string) []string { return []string{strings.ReplaceAll(s, `'`, `''`)} },
	"xml-dotnet": func(s string) []string {
		return []string{strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)}
	},
	"trim-double-quotes": func(s string) []string {
		if len(s) > 8 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
			return []string{s[1 : len(s)-1]}
		}
		return nil
	},
}

// TestDeriveVectors checks Derive against every encoded vector that lists
// at least one of hush's forms: each needle Derive produces for a listed
// form is one of the vector's derived_needles, and every derived needle is
// accounted for (raw, one of hush's forms, or a form hush does not
// implement, reproduced by otherForms).
func TestDeriveVectors(t *testing.T) {
	vf := loadVectors(t)
	ours := map[string]bool{}
	for _, e := range AllEncodings() {
		ours[string(e)] = true
	}
	checked := 0
	for _, v := range vf.Encoded {
		decode := func(s string) string {
			if v.BytesEncoding != "base64" {
				return s
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("%s: bad base64: %v", v.Name, err)
			}
			return string(b)
		}
		var mine, theirs []string
		for _, e := range v.Encodings {
			if ours[e] {
				mine = append(mine, e)
			} else {
				theirs = append(theirs, e)
			}
		}
		if len(mine) == 0 {
			continue
		}
		checked++
		t.Run(v.Name, func(t *testing.T) {
			needles := map[string]bool{}
			for _, n := range v.DerivedNeedles {
				needles[decode(n)] = true
			}
			covered := map[string]bool{}
			for _, s := range v.Secrets {
				s = decode(s)
				covered[s] = true
				for _, e := range mine {
					for _, n := range Derive(Encoding(e), []byte(s)) {
						if !needles[string(n)] {
							t.Errorf("secret %q: %s needle %q is not in derived_needles", s, e, n)
						}
						covered[string(n)] = true
					}
				}
				for _, e := range theirs {
					f, known := otherForms[e]
					if !known {
						t.Fatalf("vector lists form %q, which neither Derive nor otherForms knows", e)
					}
					if f == nil {
						continue
					}
					for _, n := range f(s) {
						covered[n] = true
					}
				}
			}
			for n := range needles {
				if !covered[n] {
					t.Errorf("derived needle %q is produced by no form (ours: %v, others: %v)", n, mine, theirs)
				}
			}
		})
	}
	if checked < 10 {
		t.Errorf("only %d encoded vectors use hush's forms; the vectors file changed?", checked)
	}
}

// TestDeriveMatchesPython compares the Python forms (and the byte forms that
// Python also has) with the real CPython encoders, when python3 is
// installed.
func TestDeriveMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIP: python3 not found; Python encoders not cross-checked")
	}
	inputs := []string{
		"plain-secret-123", "it's", `say "hi"`, `both ' and "`, `back\slash`,
		"ctl\x00\x01\x1f\x7f\b\f\n\r\t", "ünïcödé €", "emoji 😀 𝄞", "\u2028\u2029",
		"\u00a0nbsp\u00adsoft", "\ue000\uffff", "\U000e0001tag", "<script>&amp;'\"</script>",
		"a b+c/d?e=f&g#h", "~-._", "\ufeffbom", "e\u0301", "中文密码", "tab\tand\nnewline",
	}
	const script = `
import base64, html, json, sys, urllib.parse
out = []
for b in json.load(sys.stdin):
    s = base64.b64decode(b).decode("utf-8")
    q = urllib.parse.quote(s, safe="")
    forms = {
        "json-python": json.dumps(s)[1:-1],
        "json-python-utf8": json.dumps(s, ensure_ascii=False)[1:-1],
        "python-repr": repr(s)[1:-1],
        "html-python": html.escape(s, quote=True),
        "url-percent": q,
        "url-query": urllib.parse.quote_plus(s, safe=""),
        "hex-lower": s.encode().hex(),
    }
    out.append({k: base64.b64encode(v.encode("utf-8")).decode() for k, v in forms.items()})
json.dump(out, sys.stdout)
`
	var in [][]byte
	for _, s := range inputs {
		in = append(in, []byte(s))
	}
	stdin, err := json.Marshal(in) // []byte marshals as base64
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), py, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outJSON, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("python3: %v\n%s", err, stderr.String())
		}
		t.Fatalf("python3: %v", err)
	}
	var results []map[string][]byte
	if err := json.Unmarshal(outJSON, &results); err != nil {
		t.Fatalf("python3 output: %v", err)
	}
	if len(results) != len(inputs) {
		t.Fatalf("python3 returned %d results for %d inputs", len(results), len(inputs))
	}
	for i, s := range inputs {
		for enc, want := range results[i] {
			got := Derive(Encoding(enc), []byte(s))
			if bytes.Equal(want, []byte(s)) {
				if got != nil {
					t.Errorf("%s(%s): Python leaves it unchanged, Derive gave %q", enc, strconv.Quote(s), got)
				}
				continue
			}
			if len(got) != 1 || !bytes.Equal(got[0], want) {
				t.Errorf("%s(%s): Derive gave %q, Python gives %q", enc, strconv.Quote(s), got, want)
			}
		}
	}
	// Sanity: the inputs exercise non-trivial forms.
	if !utf8.ValidString(strings.Join(inputs, "")) {
		t.Fatal("inputs must be valid UTF-8 (Python str)")
	}
}
