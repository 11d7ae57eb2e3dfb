package api

import (
	_ "embed"
	"net/http"
)

// openapiYAML is the OpenAPI 3.1 description of every route Handler registers, written from this
// package's code; api/openapi_test.go keeps the two in step.
//
//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the OpenAPI 3.1 document (YAML) that describes this API.
func OpenAPI() []byte {
	return append([]byte(nil), openapiYAML...)
}

// openapi answers GET /api/openapi.yaml with the document. It needs no token, like /api/version.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(openapiYAML)
	if err != nil {
		s.log.DebugContext(r.Context(), "writing the OpenAPI document", "err", err)
	}
	return nil
}
