// Package openapitest checks real HTTP answers against the API description
// in package openapi, with kin-openapi. Only tests import it, so the server
// binary carries neither kin-openapi nor any validation.
package openapitest

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/nexmdm/nexmdm/ingress/openapi"
)

// Validator checks answers against the document.
type Validator struct {
	router routers.Router
	opts   *openapi3filter.Options
}

// uuidFormat accepts what github.com/google/uuid prints: any version, and
// the nil UUID.
var uuidFormat = openapi3.NewRegexpFormatValidator(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// NewValidator loads and checks the document.
func NewValidator() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the API description: %w", err)
	}
	return &Validator{router: router, opts: &openapi3filter.Options{
		IncludeResponseStatus: true, // a status the operation does not declare is an error
		MultiError:            true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", uuidFormat),
		},
	}}, nil
}

// Load parses the document and checks that it is valid OpenAPI 3.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.JSON())
	if err != nil {
		return nil, fmt.Errorf("load the API description: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the API description is not valid OpenAPI 3: %w", err)
	}
	return doc, nil
}

// Response checks one answer: method and path (with any query) name a
// documented operation, the operation declares status, required headers
// such as Retry-After are there, and the body has the declared content type
// and matches its schema. A status declared without content must come
// without a body.
func (v *Validator) Response(method, path string, status int, header http.Header, body []byte) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%s %q: want a path starting with /", method, path)
	}
	req, err := http.NewRequest(method, "http://nexmdm.test"+path, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s is not in the API description: %w", method, req.URL.Path, err)
	}
	op := method + " " + route.Path
	if r := route.Operation.Responses.Status(status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("%s answered %d with a body, but the description declares none: %.200s", op, status, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: v.opts,
		},
		Status: status, Header: header, Options: v.opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s answered %d not as described: %w", op, status, err)
	}
	return nil
}
