package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
)

// redactContents redacts a contents-API answer (a notebook, file or
// directory model, or a list of them) string by string: every string and
// object key is redacted, numbers stay exact, and the content of a base64
// file model is decoded, redacted as bytes and encoded again so it stays
// valid base64. The re-encoded document is finally redacted as bytes too.
func (p *Proxy) redactContents(body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, p.maxModel+1))
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if int64(len(raw)) > p.maxModel {
		return nil, fmt.Errorf("model larger than %d bytes", p.maxModel)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("model is not JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("model has trailing data")
	}
	doc = p.redactValue(doc)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return p.red.Redact(nil, bytes.TrimSuffix(out.Bytes(), []byte("\n"))), nil
}

// redactValue redacts every string of a decoded JSON value in place.
func (p *Proxy) redactValue(v any) any {
	switch t := v.(type) {
	case string:
		return p.redactString(t)
	case []any:
		for i := range t {
			t[i] = p.redactValue(t[i])
		}
		return t
	case map[string]any:
		if f, _ := t["format"].(string); f == "base64" {
			if c, ok := t["content"].(string); ok {
				if b, err := base64.StdEncoding.DecodeString(c); err == nil {
					t["content"] = base64.StdEncoding.EncodeToString(p.red.Redact(nil, b))
				} else {
					t["content"] = p.redactString(c)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			if k == "content" {
				if _, done := e.(string); done && t["format"] == "base64" {
					out[k] = e
					continue
				}
			}
			out[p.redactString(k)] = p.redactValue(e)
		}
		return out
	default:
		return v
	}
}

func (p *Proxy) redactString(s string) string {
	r := p.red.Redact(nil, []byte(s))
	if string(r) == s {
		return s
	}
	return string(r)
}
