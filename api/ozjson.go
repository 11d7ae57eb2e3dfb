package api

import (
	"bytes"
	"encoding/json"
)

// ozJSON encodes v as Oz (Python's json.dumps) writes JSON: ", " between items and ": " after
// keys, so that Oz's deployment scripts, which grep for `"access_token": "` and check that an
// error body starts with `{"error_code": `, find what they look for. HTML characters are not
// escaped. The result ends with a newline. Every JSON body the server writes (responses, error
// envelopes, webhook bodies) goes through here.
func ozJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return respace(buf.Bytes()), nil
}

// respace puts a space after every ',' and ':' of compact JSON that is not inside a string.
// encoding/json's output has no other whitespace outside strings (it compacts json.RawMessage and
// Marshaler output too), so the result is exactly Python's default separators.
func respace(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/8)
	inString, escaped := false, false
	for _, c := range compact {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}
