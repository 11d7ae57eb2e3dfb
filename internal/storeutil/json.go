package storeutil

import (
	"encoding/json"
	"fmt"

	"bonafide"
)

// JSON validates and encodes JSON values for a store's columns.
type JSON struct {
	// Unstorable, when set, reports why valid JSON cannot be stored ("" when it can): a database
	// may hold less than all valid JSON (PostgreSQL's jsonb, for one).
	Unstorable func(raw []byte) string
}

// check validates raw JSON given by a client.
func (j JSON) check(field string, raw json.RawMessage) error {
	if !json.Valid(raw) {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "%s is not valid JSON", field)
	}
	if j.Unstorable != nil {
		if why := j.Unstorable(raw); why != "" {
			return bonafide.Errorf(bonafide.CodeInvalidValue, "%s is not valid JSON for storage: %s", field, why)
		}
	}
	return nil
}

// Text validates raw JSON for a NOT NULL column; empty becomes def.
func (j JSON) Text(field string, raw json.RawMessage, def string) (string, error) {
	if len(raw) == 0 {
		return def, nil
	}
	if err := j.check(field, raw); err != nil {
		return "", err
	}
	return string(raw), nil
}

// Nullable validates raw JSON for a nullable column; empty becomes NULL.
func (j JSON) Nullable(field string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if err := j.check(field, raw); err != nil {
		return nil, err
	}
	return string(raw), nil
}

// Array encodes a slice for a JSON column with j's rules; nil becomes [].
func Array[T any](j JSON, field string, v []T) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", field, err)
	}
	if j.Unstorable != nil {
		if why := j.Unstorable(b); why != "" {
			return "", bonafide.Errorf(bonafide.CodeInvalidValue, "%s cannot be stored: %s", field, why)
		}
	}
	return string(b), nil
}

// DecodeArray decodes a JSON array column; the result is never nil.
func DecodeArray[T any](field, text string) ([]T, error) {
	out := []T{}
	if text == "" || text == "null" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// RawOrNil is a nullable JSON column as a raw message (nil for NULL).
func RawOrNil(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}
