package jupyter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDir holds the frames captured from jupyter_server 1.23.3 +
// ipykernel 6.17 (see kernel/testdata/frames/capture/README.md).
const fixtureDir = "../testdata/frames"

type fixtureFrame struct {
	Direction string `json:"direction"`
	Type      string `json:"type"`
	Data      string `json:"data"`
}

// loadFixtureFrames returns every frame of every scenario of format f,
// keyed by "scenario#index".
func loadFixtureFrames(t testing.TB, f Format) map[string][]fixtureFrame {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, f.String(), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no captured frames in %s/%s", fixtureDir, f)
	}
	out := map[string][]fixtureFrame{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var frames []fixtureFrame
		if err := json.Unmarshal(raw, &frames); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out[strings.TrimSuffix(filepath.Base(file), ".json")] = frames
	}
	return out
}

func (ff fixtureFrame) frame(t testing.TB) Frame {
	t.Helper()
	if ff.Type == "text" {
		return Frame{Data: []byte(ff.Data)}
	}
	b, err := base64.StdEncoding.DecodeString(ff.Data)
	if err != nil {
		t.Fatal(err)
	}
	return Frame{Binary: true, Data: b}
}

// Every frame jupyter_server sent (and every frame our capture client
// sent) decodes, and re-encodes byte for byte.
func TestCapturedFramesRoundTripByteExact(t *testing.T) {
	for _, f := range []Format{FormatLegacy, FormatV1} {
		types := map[string]bool{}
		withBuffers := 0
		for scenario, frames := range loadFixtureFrames(t, f) {
			for i, ff := range frames {
				fr := ff.frame(t)
				m, err := f.Decode(fr)
				if err != nil {
					t.Errorf("%s/%s#%d: %v", f, scenario, i, err)
					continue
				}
				if m.Channel == "" || m.Type() == "" {
					t.Errorf("%s/%s#%d: channel %q type %q", f, scenario, i, m.Channel, m.Type())
				}
				types[m.Type()] = true
				if len(m.Buffers) > 0 {
					withBuffers++
				}
				if ff.Direction == "send" && f == FormatLegacy {
					continue // our client's JSON spacing need not match
				}
				out, err := f.Encode(m)
				if err != nil {
					t.Errorf("%s/%s#%d: encode: %v", f, scenario, i, err)
					continue
				}
				if out.Binary != fr.Binary || !bytes.Equal(out.Data, fr.Data) {
					t.Errorf("%s/%s#%d: re-encoded frame differs\n got %q\nwant %q", f, scenario, i, out.Data, fr.Data)
				}
			}
		}
		for _, want := range []string{"stream", "error", "execute_result", "display_data", "input_request",
			"inspect_reply", "comm_open", "comm_msg", "status", "execute_reply", "kernel_info_reply", "history_reply"} {
			if !types[want] {
				t.Errorf("%s: no captured %s message", f, want)
			}
		}
		if withBuffers == 0 {
			t.Errorf("%s: no captured message with buffers", f)
		}
	}
}

func addFixtureSeeds(f *testing.F, format Format) {
	for _, frames := range loadFixtureFrames(f, format) {
		for _, ff := range frames {
			fr := ff.frame(f)
			f.Add(fr.Binary, fr.Data)
		}
	}
}

// fuzzRoundTrip checks that decoding never panics and that whatever
// decodes re-encodes into a frame that decodes to the same parts.
func fuzzRoundTrip(t *testing.T, format Format, binary bool, data []byte) {
	m, err := format.Decode(Frame{Binary: binary, Data: data})
	if err != nil {
		return
	}
	fr, err := format.Encode(m)
	if err != nil {
		t.Fatalf("decoded message does not encode: %v", err)
	}
	back, err := format.Decode(fr)
	if err != nil {
		t.Fatalf("re-encoded frame does not decode: %v", err)
	}
	if back.Channel != m.Channel || !bytes.Equal(back.Header, m.Header) || !bytes.Equal(back.ParentHeader, m.ParentHeader) ||
		!bytes.Equal(back.Metadata, m.Metadata) || !bytes.Equal(back.Content, m.Content) || len(back.Buffers) != len(m.Buffers) {
		t.Fatalf("round trip changed the message")
	}
	for i := range m.Buffers {
		if !bytes.Equal(back.Buffers[i], m.Buffers[i]) {
			t.Fatalf("round trip changed buffer %d", i)
		}
	}
	// Rewriting every part must succeed on anything that decoded.
	for _, part := range [][]byte{m.Header, m.ParentHeader, m.Metadata, m.Content} {
		if _, err := RewriteStrings(nil, part, upper); err != nil {
			t.Fatalf("decoded part does not rewrite: %v", err)
		}
	}
}

func FuzzDecodeLegacy(f *testing.F) {
	addFixtureSeeds(f, FormatLegacy)
	f.Add(false, []byte(`{"header":{},"parent_header":{},"metadata":{},"content":{}}`))
	f.Add(true, []byte{0, 0, 0, 1, 0, 0, 0, 8})
	f.Fuzz(func(t *testing.T, binary bool, data []byte) { fuzzRoundTrip(t, FormatLegacy, binary, data) })
}

func FuzzDecodeV1(f *testing.F) {
	addFixtureSeeds(f, FormatV1)
	f.Add(true, []byte{6, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, binary bool, data []byte) { fuzzRoundTrip(t, FormatV1, binary, data) })
}

func FuzzRewriteStrings(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b","c":[1,2.5e3,"\ud83d\ude00"]}`, `"x"`, `[{"k":{"k":"v"}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := RewriteStrings(nil, data, upper)
		if err != nil {
			if json.Valid(data) {
				t.Fatalf("valid JSON refused: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("rewrite produced invalid JSON: %q", out)
		}
	})
}
