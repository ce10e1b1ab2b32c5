package jupyter

import (
	"bytes"
	"errors"
	"testing"
)

// jupyterClientFrames is a message serialized by jupyter_client 7.4's
// Session (key "5f1c9e2a-key", hmac-sha256) for the identity "client-1".
var jupyterClientFrames = [][]byte{
	[]byte("client-1"),
	[]byte("<IDS|MSG>"),
	[]byte("6dcdad122c4e6f2484879a616187af35d9732ae0c648b86e6da54104c8c2ba1e"),
	[]byte(`{"msg_id": "abc", "msg_type": "execute_request", "session": "sess", "username": "u", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}`),
	[]byte(`{}`),
	[]byte(`{}`),
	[]byte(`{"code": "print(1)"}`),
}

func mustSigner(t testing.TB, key string) *Signer {
	t.Helper()
	s, err := NewSigner("hmac-sha256", []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecodeZMQVerifiesJupyterClientSignature(t *testing.T) {
	idents, m, err := DecodeZMQ(jupyterClientFrames, mustSigner(t, "5f1c9e2a-key"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idents) != 1 || string(idents[0]) != "client-1" {
		t.Fatalf("identities = %q", idents)
	}
	if m.Type() != "execute_request" || string(m.Content) != `{"code": "print(1)"}` || len(m.Buffers) != 0 {
		t.Fatalf("decoded %s %s, %d buffers", m.Type(), m.Content, len(m.Buffers))
	}
	// Re-encoding with the same key reproduces jupyter_client's frames.
	again := EncodeZMQ(idents, m, mustSigner(t, "5f1c9e2a-key"))
	if len(again) != len(jupyterClientFrames) {
		t.Fatalf("re-encoded %d frames, want %d", len(again), len(jupyterClientFrames))
	}
	for i := range again {
		if !bytes.Equal(again[i], jupyterClientFrames[i]) {
			t.Errorf("frame %d differs: %q", i, again[i])
		}
	}
}

func TestDecodeZMQRejectsTamperingAndOtherKeys(t *testing.T) {
	if _, _, err := DecodeZMQ(jupyterClientFrames, mustSigner(t, "another-key")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: err = %v, want ErrBadSignature", err)
	}
	for i := 2; i < len(jupyterClientFrames); i++ {
		frames := make([][]byte, len(jupyterClientFrames))
		copy(frames, jupyterClientFrames)
		f := bytes.Clone(frames[i])
		f[len(f)-2] ^= 1
		frames[i] = f
		if _, _, err := DecodeZMQ(frames, mustSigner(t, "5f1c9e2a-key")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("frame %d changed: err = %v, want ErrBadSignature", i, err)
		}
	}
}

func TestZMQRoundTripWithBuffersAndSeveralIdentities(t *testing.T) {
	s := mustSigner(t, "k")
	m := &Message{
		Header:       []byte(`{"msg_id":"1","msg_type":"comm_msg"}`),
		ParentHeader: []byte(`{"msg_id":"0"}`),
		Metadata:     []byte(`{}`),
		Content:      []byte(`{"data":{}}`),
		Buffers:      [][]byte{{0, 1, 2}, {}},
	}
	frames := EncodeZMQ([][]byte{[]byte("a"), []byte("b")}, m, s)
	idents, got, err := DecodeZMQ(frames, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(idents) != 2 || string(idents[1]) != "b" || len(got.Buffers) != 2 || !bytes.Equal(got.Buffers[0], []byte{0, 1, 2}) {
		t.Fatalf("round trip: idents %q, buffers %v", idents, got.Buffers)
	}
	// Buffers are not signed (as in jupyter_client), the JSON parts are.
	frames[len(frames)-2] = []byte("x")
	if _, _, err := DecodeZMQ(frames, s); err != nil {
		t.Fatalf("changed buffer: %v", err)
	}
}

func TestZMQWithoutKey(t *testing.T) {
	s, err := NewSigner("", nil)
	if err != nil || s.Enabled() {
		t.Fatalf("NewSigner without key: %v, enabled %v", err, s.Enabled())
	}
	frames := EncodeZMQ(nil, &Message{Header: []byte(`{"msg_type":"status"}`)}, s)
	if len(frames[1]) != 0 {
		t.Fatalf("signature without key = %q, want empty", frames[1])
	}
	if _, m, err := DecodeZMQ(frames, s); err != nil || string(m.Content) != "{}" {
		t.Fatalf("decode without key: %v", err)
	}
}

func TestNewSignerSchemes(t *testing.T) {
	for _, scheme := range []string{"hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5", ""} {
		if _, err := NewSigner(scheme, []byte("k")); err != nil {
			t.Errorf("%q: %v", scheme, err)
		}
	}
	if _, err := NewSigner("rot13", []byte("k")); err == nil {
		t.Error("unknown scheme accepted")
	}
}

func TestDecodeZMQMalformed(t *testing.T) {
	s := mustSigner(t, "")
	ok := [][]byte{[]byte(Delimiter), nil, []byte("{}"), []byte("{}"), []byte("{}"), []byte("{}")}
	if _, _, err := DecodeZMQ(ok, s); err != nil {
		t.Fatalf("minimal message: %v", err)
	}
	for name, frames := range map[string][][]byte{
		"no delimiter":    {[]byte("id"), nil, []byte("{}"), []byte("{}"), []byte("{}"), []byte("{}")},
		"too few frames":  {[]byte(Delimiter), nil, []byte("{}"), []byte("{}"), []byte("{}")},
		"array content":   {[]byte(Delimiter), nil, []byte("{}"), []byte("{}"), []byte("{}"), []byte("[]")},
		"broken header":   {[]byte(Delimiter), nil, []byte("{"), []byte("{}"), []byte("{}"), []byte("{}")},
		"trailing header": {[]byte(Delimiter), nil, []byte("{} x"), []byte("{}"), []byte("{}"), []byte("{}")},
		"empty metadata":  {[]byte(Delimiter), nil, []byte("{}"), []byte("{}"), nil, []byte("{}")},
	} {
		if _, _, err := DecodeZMQ(frames, s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// splitFuzzFrames turns fuzz input into frames: each frame is one length
// byte followed by that many bytes (the last frame takes what is left).
func splitFuzzFrames(data []byte) [][]byte {
	var frames [][]byte
	for len(data) > 0 {
		n := int(data[0])
		data = data[1:]
		if n > len(data) {
			n = len(data)
		}
		frames = append(frames, data[:n])
		data = data[n:]
	}
	return frames
}

func joinFuzzFrames(frames [][]byte) []byte {
	var out []byte
	for _, f := range frames {
		if len(f) > 255 {
			f = f[:255]
		}
		out = append(out, byte(len(f)))
		out = append(out, f...)
	}
	return out
}

// FuzzDecodeZMQ feeds arbitrary multipart messages to DecodeZMQ: it never
// panics, accepts nothing whose signature does not verify, and whatever it
// accepts re-encodes to frames that decode to the same message.
func FuzzDecodeZMQ(f *testing.F) {
	f.Add(joinFuzzFrames(jupyterClientFrames), "5f1c9e2a-key")
	f.Add(joinFuzzFrames(jupyterClientFrames), "")
	s := mustSigner(f, "k")
	f.Add(joinFuzzFrames(EncodeZMQ([][]byte{[]byte("id")}, &Message{
		Header: []byte(`{"msg_type":"stream"}`), Content: []byte(`{"name":"stdout","text":"hi\u00e9"}`),
		Buffers: [][]byte{[]byte("buf")},
	}, s)), "k")
	f.Add([]byte{9, '<', 'I', 'D', 'S', '|', 'M', 'S', 'G', '>', 0, 2, '{', '}'}, "")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		s, err := NewSigner("hmac-sha256", []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		frames := splitFuzzFrames(data)
		idents, m, err := DecodeZMQ(frames, s)
		if err != nil {
			return
		}
		enc := EncodeZMQ(idents, m, s)
		sig := enc[len(idents)+1]
		if !s.Verify(sig, m.Header, m.ParentHeader, m.Metadata, m.Content) {
			t.Fatal("accepted message does not verify after re-encoding")
		}
		idents2, m2, err := DecodeZMQ(enc, s)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if len(idents2) != len(idents) || !bytes.Equal(m2.Header, m.Header) || !bytes.Equal(m2.Content, m.Content) || len(m2.Buffers) != len(m.Buffers) {
			t.Fatal("re-encoded message differs")
		}
	})
}
