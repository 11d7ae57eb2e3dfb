// Package oascheck validates HTTP responses against Bonafide's OpenAPI document (api/openapi.yaml),
// so that tests catch any drift between the JSON the server writes and the spec it publishes.
//
// # OpenAPI 3.1
//
// The document is OpenAPI 3.1 and is loaded as 3.1, unchanged: github.com/getkin/kin-openapi
// v0.153.0 parses 3.1 documents (type arrays such as ["string", "null"], const, examples,
// contentMediaType, $ref siblings, jsonSchemaDialect) and, when the document says 3.1, validates
// values with a JSON Schema 2020-12 validator (santhosh-tekuri/jsonschema/v6, enabled with
// openapi3.EnableJSONSchema2020). No down-conversion to 3.0 or `nullable` rewriting is done. What
// kin-openapi checks for 3.1 is partial in places that do not matter here (for example it does not
// validate 3.1 documents against the official meta-schema); Load runs doc.Validate, which checks
// the document's structure, references, parameters and schemas.
//
// # Matching
//
// The server answers every route with and without a trailing slash, and the spec lists the no-slash
// form. Response strips the query and one trailing slash from the path, then finds the path
// template whose segments match, preferring literal segments over parameters
// (/api/users/me over /api/users/{user_id}), as net/http's ServeMux does.
//
// A request whose path or method the spec does not list must be answered with an error (status ≥ 400)
// whose body is the spec's Error schema: that is how the server's catch-all answers. HEAD requests
// are checked against GET with no body; OPTIONS requests are CORS preflights and must be answered
// 204 with an empty body.
package oascheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Checker validates responses against one loaded document.
type Checker struct {
	doc    *openapi3.T
	routes []route
	errRef *openapi3.SchemaRef // components.schemas.Error
}

type route struct {
	template string
	segments []string // "" for a parameter segment
	literals int
	item     *openapi3.PathItem
}

// Load parses and validates the document.
func Load(spec []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("oascheck: parsing the document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("oascheck: the document is OpenAPI %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("oascheck: the document is invalid: %w", err)
	}
	c := &Checker{doc: doc}
	if doc.Components != nil {
		c.errRef = doc.Components.Schemas["Error"]
	}
	if c.errRef == nil || c.errRef.Value == nil {
		return nil, errors.New("oascheck: the document has no components.schemas.Error")
	}
	for template, item := range doc.Paths.Map() {
		r := route{template: template, item: item}
		for _, seg := range strings.Split(strings.Trim(template, "/"), "/") {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				seg = ""
			} else {
				r.literals++
			}
			r.segments = append(r.segments, seg)
		}
		c.routes = append(c.routes, r)
	}
	// Most literal segments first, then by template, so that matching is deterministic.
	sort.Slice(c.routes, func(i, j int) bool {
		if c.routes[i].literals != c.routes[j].literals {
			return c.routes[i].literals > c.routes[j].literals
		}
		return c.routes[i].template < c.routes[j].template
	})
	return c, nil
}

// Doc returns the loaded document.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Normalize strips the query (and fragment) and one trailing slash, as the server treats
// "/api/folders/" like "/api/folders".
func Normalize(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if path == "" {
		path = "/"
	}
	return path
}

// Find returns the path template and operation for a request; the operation is nil when the
// path is documented but the method is not, and the template is "" when the path is not.
func (c *Checker) Find(method, path string) (string, *openapi3.Operation) {
	segs := strings.Split(strings.Trim(Normalize(path), "/"), "/")
	for _, r := range c.routes {
		if len(r.segments) != len(segs) {
			continue
		}
		ok := true
		for i, s := range r.segments {
			if s == "" {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r.template, r.item.GetOperation(strings.ToUpper(method))
		}
	}
	return "", nil
}

// Operations lists every documented "METHOD /path".
func (c *Checker) Operations() []string {
	var out []string
	for _, r := range c.routes {
		for m := range r.item.Operations() {
			out = append(out, m+" "+r.template)
		}
	}
	sort.Strings(out)
	return out
}

// Response validates one response: the status must be documented for the operation (or fall to
// its default response), the Content-Type must be one the response lists, and a body with a schema
// must validate against it. path may carry a query.
func (c *Checker) Response(method, path string, status int, header http.Header, body []byte) error {
	method = strings.ToUpper(method)
	where := fmt.Sprintf("%s %s -> %d", method, path, status)
	switch method {
	case http.MethodOptions:
		if status != http.StatusNoContent || len(body) > 0 {
			return fmt.Errorf("oascheck: %s: a CORS preflight must be answered 204 with no body (got %d bytes)", where, len(body))
		}
		return nil
	}
	head := method == http.MethodHead
	if head {
		method = http.MethodGet
	}
	template, op := c.Find(method, path)
	if op == nil {
		// Undocumented path or method: the server's catch-all must answer with the error envelope.
		what := "path"
		if template != "" {
			what = "method on " + template
		}
		if status < 400 {
			return fmt.Errorf("oascheck: %s: undocumented %s answered with a success status", where, what)
		}
		if head {
			return nil
		}
		if err := c.validateBody(header, body, "application/json", c.errRef); err != nil {
			return fmt.Errorf("oascheck: %s: undocumented %s: the answer is not the error envelope: %w", where, what, err)
		}
		return nil
	}
	where = fmt.Sprintf("%s %s (%s %s) -> %d", method, path, method, template, status)
	if op.Responses == nil {
		return fmt.Errorf("oascheck: %s: the operation documents no responses", where)
	}
	ref := op.Responses.Status(status)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("oascheck: %s: status %d is not documented and there is no default response", where, status)
	}
	resp := ref.Value
	for name, h := range resp.Headers {
		if h.Value != nil && h.Value.Required && header.Get(name) == "" {
			return fmt.Errorf("oascheck: %s: required header %s is missing", where, name)
		}
	}
	if len(resp.Content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("oascheck: %s: the spec documents no body but the answer has %d bytes", where, len(body))
		}
		return nil
	}
	ct := header.Get("Content-Type")
	mt := resp.Content.Get(ct)
	if mt == nil {
		return fmt.Errorf("oascheck: %s: Content-Type %q is not one of %v", where, ct, keys(resp.Content))
	}
	if mt.Schema == nil || head {
		return nil
	}
	if err := c.validateBody(header, body, ct, mt.Schema); err != nil {
		return fmt.Errorf("oascheck: %s: %w", where, err)
	}
	return nil
}

// validateBody checks body against schema: JSON media types are decoded and validated with the
// JSON Schema 2020-12 validator; text bodies are validated as one string.
func (c *Checker) validateBody(header http.Header, body []byte, ct string, schema *openapi3.SchemaRef) error {
	if got := header.Get("Content-Type"); got != "" {
		ct = got
	}
	base, _, err := mime.ParseMediaType(ct)
	if err != nil {
		base = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	}
	var value any
	switch {
	case base == "application/json" || strings.HasSuffix(base, "+json"):
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&value); err != nil {
			return fmt.Errorf("the body is not JSON (%v): %.200q", err, body)
		}
		if dec.More() {
			return fmt.Errorf("the body has data after the JSON value: %.200q", body)
		}
	case strings.HasPrefix(base, "text/") || base == "application/yaml" || strings.HasSuffix(base, "+yaml") ||
		base == "application/openmetrics-text":
		value = string(body)
	default:
		return nil // binary: the Content-Type match is the check
	}
	if schema.Value == nil {
		return errors.New("the schema is not resolved")
	}
	if err := schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse(),
		openapi3.MultiErrors(), uuidFormat); err != nil {
		return fmt.Errorf("the body does not match the schema: %s\nbody: %.2000s", brief(err), body)
	}
	return nil
}

// brief lists schema errors as "at /json/pointer: reason", without kin-openapi's dump of the whole
// schema and value.
func brief(err error) string {
	var errs []error
	var me openapi3.MultiError
	if errors.As(err, &me) {
		errs = me
	} else {
		errs = []error{err}
	}
	var out []string
	for _, e := range errs {
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			out = append(out, fmt.Sprintf("at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason))
		} else {
			out = append(out, e.Error())
		}
	}
	return strings.Join(out, "; ")
}

// uuidFormat asserts `format: uuid` (JSON Schema 2020-12 treats formats as annotations only). It
// is scoped to this checker's calls, not registered globally.
var uuidFormat = openapi3.WithStringFormatValidator("uuid",
	openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))

func keys(c openapi3.Content) []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Transport returns a RoundTripper that sends each request with next (http.DefaultTransport when
// nil), reads the whole response body, validates the response with Response, reports a mismatch
// with t.Errorf, and hands the response on with its body intact. Bodies are buffered, so it does
// not suit streaming; use it only while t runs (t.Errorf after a test ends panics).
func (c *Checker) Transport(next http.RoundTripper, t testing.TB) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{c: c, next: next, t: t}
}

type transport struct {
	c    *Checker
	next http.RoundTripper
	t    testing.TB

	mu      sync.Mutex
	checked int
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	var body []byte
	if resp.Body != nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("oascheck: reading the response to %s %s: %w", req.Method, req.URL.Path, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	path := req.URL.EscapedPath()
	if verr := tr.c.Response(req.Method, path, resp.StatusCode, resp.Header, body); verr != nil {
		tr.t.Errorf("%v", verr)
	}
	tr.mu.Lock()
	tr.checked++
	tr.mu.Unlock()
	return resp, nil
}

// Checked returns how many responses a Transport validated (0 for other RoundTrippers).
func Checked(rt http.RoundTripper) int {
	tr, ok := rt.(*transport)
	if !ok {
		return 0
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.checked
}
