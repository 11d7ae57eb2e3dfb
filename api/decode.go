package api

// Request decoding shared by every handler: JSON bodies, query flags, paging, and the field
// errors they produce.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"bonafide"
)

// decodeBody reads a JSON body leniently (any content type: old clients send form content types
// with JSON bodies; an empty body is {}), and reports a field of the wrong type as
// code 5 naming the field, and a body that is not an object as code 3.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return &bonafide.Error{Code: bonafide.CodeInvalidStructure,
					Message: "Invalid body structure: the body must be a JSON object, not a JSON " + te.Value}
			}
			return &bonafide.Error{Code: bonafide.CodeInvalidType,
				Message: fmt.Sprintf("Invalid param type: %s must be a %s, not a JSON %s", te.Field, typeName(te.Type.Kind().String()), te.Value),
				Details: map[string]string{"key_path": te.Field}}
		}
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: the body is not valid JSON: " + err.Error()}
	}
	return nil
}

func typeName(kind string) string {
	switch kind {
	case "bool":
		return "boolean (true or false)"
	case "ptr", "string":
		return "string"
	}
	return kind
}

func missingField(name string) error { return bonafide.MissingField(name, "") }

func invalidValue(field, format string, args ...any) error {
	return bonafide.InvalidValue(field, format, args...)
}

func boolParam(r *http.Request, name string) bool { return isTrue(r.URL.Query().Get(name)) }

// page is the lamb pagination of an in-memory list (oz-api.md §1.5).
type page struct {
	bonafide.Page
	omitTotal bool
}

func pageOf(r *http.Request) (page, error) {
	q := r.URL.Query()
	p, err := bonafide.ParsePage(q.Get("offset"), q.Get("limit"))
	return page{Page: p, omitTotal: boolParam(r, "total_omit")}, err
}

// write sends items[offset:offset+limit] in the pagination envelope.
func writePage[T any](w http.ResponseWriter, p page, items []T) {
	total := len(items)
	lo, hi := p.Bounds(total)
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	var tc *int
	if !p.omitTotal {
		tc = &total
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": p.Offset, "limit": p.Limit, "total_count": tc, "items": out})
}
