package openapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// The document stays tidy: valid JSON, indented with two spaces, as
// json.Indent writes it, so diffs of it are easy to read.
func TestDocumentIsTidyJSON(t *testing.T) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, document); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	var tidy bytes.Buffer
	if err := json.Indent(&tidy, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	tidy.WriteByte('\n')
	if !bytes.Equal(tidy.Bytes(), document) {
		a, b := tidy.Bytes(), document
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		line := bytes.Count(b[:i], []byte("\n")) + 1
		t.Errorf("openapi.json is not indented with two spaces as json.Indent would; first difference on line %d", line)
	}
}

func TestHandlerServesTheDocument(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/openapi.json")
	Handler(&ctx)
	if got := ctx.Response.StatusCode(); got != fasthttp.StatusOK {
		t.Errorf("status = %d, want 200", got)
	}
	if got := string(ctx.Response.Header.ContentType()); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if !bytes.Equal(ctx.Response.Body(), JSON()) {
		t.Error("the body is not the document")
	}
	JSON()[0] = 'x'
	if document[0] != '{' {
		t.Error("JSON() let a caller change the document")
	}
}
