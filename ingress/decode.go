package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/valyala/fasthttp"
)

// decodeJSON decodes an admin-style JSON body into v. Unknown fields are
// ignored; a wrong type is an error naming the field.
func decodeJSON(body []byte, v any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(fasthttp.StatusBadRequest, "malformed_json", "the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fieldError(typeErr.Field, "must be of JSON type %s", jsonKind(typeErr.Type.Kind().String()))
		}
		return errorf(fasthttp.StatusBadRequest, "malformed_json", "the body is not a valid JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(fasthttp.StatusBadRequest, "malformed_json", "the body has data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	default:
		return "object"
	}
}
