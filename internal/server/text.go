package server

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// checkStringValue refuses a string_value that is not Unicode text:
// invalid UTF-8, or a \u escape of a lone UTF-16 surrogate. Go's JSON
// decoder replaces both with U+FFFD silently, so the value stored would not
// be the one sent; binary values belong in bytes_value. body is the
// request's JSON body, already decoded once without error.
func checkStringValue(body []byte) *apiError {
	var raw struct {
		StringValue json.RawMessage `json:"string_value"`
	}
	if json.Unmarshal(body, &raw) != nil || isValidJSONText(raw.StringValue) {
		return nil
	}
	return invalidParam("string_value is not valid Unicode text (it holds invalid UTF-8 or a lone UTF-16 surrogate): send binary values base64-encoded in bytes_value instead.")
}

// isValidJSONText reports whether lit, a JSON string literal, is valid
// UTF-8 and has no \u escape of a lone surrogate.
func isValidJSONText(lit []byte) bool {
	if !utf8.Valid(lit) {
		return false
	}
	pendingHigh := false // the previous escape was a high surrogate
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			if pendingHigh {
				return false
			}
			continue
		}
		if i+1 >= len(lit) {
			return false
		}
		if lit[i+1] != 'u' {
			if pendingHigh {
				return false
			}
			i++ // an escaped character, possibly a backslash
			continue
		}
		if i+6 > len(lit) {
			return false
		}
		n, err := strconv.ParseUint(string(lit[i+2:i+6]), 16, 16)
		if err != nil {
			return false
		}
		r := rune(n)
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate
			if pendingHigh {
				return false
			}
			pendingHigh = true
		case r >= 0xDC00 && r < 0xE000: // low surrogate
			if !pendingHigh {
				return false
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return false
			}
		}
		i += 5
	}
	return !pendingHigh
}
