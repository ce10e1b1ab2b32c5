package msgredact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// The frames captured from jupyter_server 1.23.3 + ipykernel 6.17, see
// kernel/testdata/frames/capture/README.md.
const fixtureDir = "../testdata/frames"

type capturedFrame struct {
	Direction string `json:"direction"`
	Type      string `json:"type"`
	Data      string `json:"data"`
}

func loadScenario(t testing.TB, file string) []jupyter.Frame {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfs []capturedFrame
	if err := json.Unmarshal(raw, &cfs); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []jupyter.Frame
	for _, cf := range cfs {
		if cf.Direction != "recv" {
			continue // client→server frames are not redacted
		}
		if cf.Type == "text" {
			out = append(out, jupyter.Frame{Data: []byte(cf.Data)})
			continue
		}
		b, err := base64.StdEncoding.DecodeString(cf.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, jupyter.Frame{Binary: true, Data: b})
	}
	return out
}

// shape is a JSON part with every string replaced by "" (keys kept, after
// redactKey) and numbers kept exactly.
func shape(t *testing.T, part []byte, redactKey func(string) string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(part))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("part does not parse: %v", err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return ""
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[redactKey(k)] = walk(e)
			}
			return out
		default:
			return v
		}
	}
	return walk(v)
}

type msgShape struct {
	Channel, Type                            string
	Header, Parent, Metadata, Content, Extra any
	Buffers                                  int
}

func shapeOf(t *testing.T, m *jupyter.Message, redactKey func(string) string) msgShape {
	var extra []string
	for _, e := range m.Extra {
		extra = append(extra, e.Key)
	}
	return msgShape{
		Channel: m.Channel, Type: m.Type(),
		Header:   shape(t, m.Header, redactKey),
		Parent:   shape(t, m.ParentHeader, redactKey),
		Metadata: shape(t, m.Metadata, redactKey),
		Content:  shape(t, m.Content, redactKey),
		Extra:    extra,
		Buffers:  len(m.Buffers),
	}
}

// Every captured frame goes through decode → Filter ("hello-secret"
// registered) → encode: no form of the secret leaves, every frame decodes,
// message shapes are unchanged apart from redacted strings, the order of
// the messages of each cell is kept, stream text is exactly the redacted
// original (a tail held at the end leaves as a token when it is a long
// partial match), and untouched messages are byte-identical.
func TestReplayCapturedFrames(t *testing.T) {
	r := newRedactor(t, secret)
	redactKey := func(k string) string { return string(r.Redact(nil, []byte(k))) }
	keep := func(k string) string { return k }
	for _, format := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		files, err := filepath.Glob(filepath.Join(fixtureDir, format.String(), "*.json"))
		if err != nil || len(files) < 10 {
			t.Fatalf("%s: captured scenarios missing (%d files, %v)", format, len(files), err)
		}
		secretScenarios := 0
		for _, file := range files {
			name := format.String() + "/" + strings.TrimSuffix(filepath.Base(file), ".json")
			t.Run(name, func(t *testing.T) {
				in := loadScenario(t, file)
				ff := NewFrameFilter(format, r)
				var out []jupyter.Frame
				var inMsgs []*jupyter.Message
				var untouched [][]byte
				sawSecret := false
				for i, fr := range in {
					m, err := format.Decode(fr)
					if err != nil {
						t.Fatalf("frame %d does not decode: %v", i, err)
					}
					inMsgs = append(inMsgs, m)
					sawSecret = sawSecret || redacttest.Leaked(fr.Data, []byte(secret)) != nil
					got, err := ff.Process(fr)
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					if redacttest.Leaked(fr.Data, []byte(secret)) == nil && !bytes.Contains(fr.Data, []byte("hel")) && m.Type() != "stream" {
						untouched = append(untouched, fr.Data)
					}
					out = append(out, got...)
				}
				out = append(out, ff.Close()...)
				// Untouched messages leave byte for byte (possibly after
				// waiting behind held stream text).
				for i, data := range untouched {
					found := false
					for _, o := range out {
						found = found || bytes.Equal(o.Data, data)
					}
					if !found {
						t.Errorf("untouched frame %d was changed", i)
					}
				}
				if sawSecret {
					secretScenarios++
				}

				var outMsgs []*jupyter.Message
				sawToken := false
				for i, fr := range out {
					if !redacttest.AssertNoSecret(t, fr.Data, []byte(secret)) {
						t.FailNow() // the messages below would print it
					}
					if format == jupyter.FormatV1 && !fr.Binary {
						t.Errorf("output frame %d: v1 text frame", i)
					}
					m, err := format.Decode(fr)
					if err != nil {
						t.Fatalf("output frame %d does not decode: %v", i, err)
					}
					if format == jupyter.FormatLegacy && fr.Binary != (len(m.Buffers) > 0) {
						t.Errorf("output frame %d: binary=%v with %d buffers", i, fr.Binary, len(m.Buffers))
					}
					sawToken = sawToken || bytes.Contains(fr.Data, []byte(redact.Token))
					outMsgs = append(outMsgs, m)
				}
				if sawSecret && !sawToken {
					t.Error("the input held the secret but no output frame has a token")
				}

				// Non-stream messages: same sequence in each cell, same
				// shapes.
				inShapes, outShapes := map[string][]msgShape{}, map[string][]msgShape{}
				inText, outText := map[string]string{}, map[string]string{}
				streamShape := func(m *jupyter.Message, rk func(string) string) msgShape {
					s := shapeOf(t, m, rk)
					s.Header, s.Extra = nil, nil // msg_ids of released text differ
					return s
				}
				var inStream, outStream []msgShape
				for _, m := range inMsgs {
					if m.Type() == "stream" {
						name, _ := jupyter.StringMember(m.Content, "name")
						text, _ := jupyter.StringMember(m.Content, "text")
						inText[m.ParentID()+"/"+name] += text
						inStream = append(inStream, streamShape(m, redactKey))
						continue
					}
					inShapes[m.ParentID()] = append(inShapes[m.ParentID()], shapeOf(t, m, redactKey))
				}
				for _, m := range outMsgs {
					if m.Type() == "stream" {
						name, _ := jupyter.StringMember(m.Content, "name")
						text, _ := jupyter.StringMember(m.Content, "text")
						outText[m.ParentID()+"/"+name] += text
						outStream = append(outStream, streamShape(m, keep))
						continue
					}
					outShapes[m.ParentID()] = append(outShapes[m.ParentID()], shapeOf(t, m, keep))
				}
				if !reflect.DeepEqual(inShapes, outShapes) {
					t.Errorf("non-stream message shapes differ:\n in %s\nout %s", dump(inShapes), dump(outShapes))
				}
				for _, s := range outStream {
					if !containsShape(inStream, s) {
						t.Errorf("output stream message of a shape no input had: %s", dump(s))
					}
				}
				for k, text := range inText {
					if want := redactStream(r, text); outText[k] != want {
						t.Errorf("stream %s: got %q want %q", k, outText[k], want)
					}
				}
				if len(outText) > len(inText) {
					t.Errorf("streams appeared: %v", outText)
				}
			})
		}
		if secretScenarios < 9 {
			t.Errorf("%s: only %d scenarios carry the secret; the fixtures are not testing anything", format, secretScenarios)
		}
	}
}

// redactStream is what a stream's text becomes when its tail is released at
// the end without more text to come: Redact of the whole, except that a
// partial match longer than MaxClear at the end leaves as a token.
func redactStream(r *redact.Redactor, text string) string {
	var b bytes.Buffer
	w := r.NewWriter(&b)
	_, _ = w.Write([]byte(text))
	if w.Live() > MaxClear {
		_ = w.FlushRedacted()
	}
	_ = w.Close()
	return b.String()
}

func containsShape(list []msgShape, s msgShape) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, s) {
			return true
		}
	}
	return false
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
