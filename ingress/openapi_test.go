package ingress

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/ingress/openapi/openapitest"
)

// loadDescription loads ingress/openapi/openapi.json and checks that it is
// valid OpenAPI 3 (kin-openapi's loader.LoadFromData and doc.Validate).
func loadDescription(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// documentedOperations maps "METHOD /path" to its operation.
func documentedOperations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

func newDescribedServer() *Server {
	return New(DefaultConfig(), Deps{
		Registry: prometheus.NewRegistry(), // so that /metrics is routed
		Sessions: adminauth.NewSessions("openapi-test-secret"),
	})
}

// The API description names exactly the routes the server registers: a
// route added without its description, or described but gone, fails here.
func TestAPIDescriptionHasEveryRouteAndNoOther(t *testing.T) {
	ops := documentedOperations(loadDescription(t))
	routes := map[string]bool{}
	for method, paths := range newDescribedServer().Routes() {
		for _, path := range paths {
			routes[method+" "+path] = true
		}
	}
	if len(routes) < 20 {
		t.Fatalf("Routes() lists %d routes; the check would check little", len(routes))
	}
	for r := range routes {
		if ops[r] == nil {
			t.Errorf("%s is served but not described in ingress/openapi/openapi.json", r)
		}
	}
	for op := range ops {
		if !routes[op] {
			t.Errorf("%s is described in ingress/openapi/openapi.json but the server has no such route", op)
		}
	}
}

var permissions = []string{
	string(adminauth.Read), string(adminauth.Command), string(adminauth.Enroll),
	string(adminauth.APKWrite), string(adminauth.Manage),
}

// Every operation has an id and a summary, and every admin operation names
// the permission it needs.
func TestAPIDescriptionNamesOperationsAndPermissions(t *testing.T) {
	doc := loadDescription(t)
	for name, op := range documentedOperations(doc) {
		if op.OperationID == "" || op.Summary == "" {
			t.Errorf("%s has no operationId or no summary", name)
		}
		admin := op.Security == nil // the document's default: admin credentials
		perm, _ := op.Extensions["x-permission"].(string)
		switch {
		case admin && !slices.Contains(permissions, perm):
			t.Errorf("%s takes admin credentials but its x-permission is %q, not one of %v", name, perm, permissions)
		case admin && !strings.Contains(op.Description, "`"+perm+"` permission"):
			t.Errorf("%s: its description does not say it needs the `%s` permission", name, perm)
		case !admin && perm != "":
			t.Errorf("%s has x-permission %q but does not take admin credentials", name, perm)
		}
	}
}

// x-permission is what the server enforces: each role gets 403 exactly
// from the operations whose permission it lacks. The handlers behind the
// check have no stores here; whatever they answer is not a 403.
func TestAPIDescriptionPermissionsAreTheEnforcedOnes(t *testing.T) {
	s := newDescribedServer()
	now := time.Now()
	handler := s.Handler()
	for _, role := range []string{adminauth.RoleViewer, adminauth.RoleOperator, adminauth.RoleAdmin} {
		token, _, err := s.deps.Sessions.IssueAccess(uuid.New(), role+"1", role, now)
		if err != nil {
			t.Fatal(err)
		}
		user := &adminauth.Principal{Kind: "user", Role: role}
		for name, op := range documentedOperations(loadDescription(t)) {
			perm, ok := op.Extensions["x-permission"].(string)
			if keyOnly, _ := op.Extensions["x-enroll-key-only"].(bool); !ok || keyOnly { // no user may call it
				continue
			}
			method, path, _ := strings.Cut(name, " ")
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(method)
			ctx.Request.SetRequestURI(strings.ReplaceAll(path, "{id}", uuid.NewString()))
			ctx.Request.Header.Set("Authorization", "Bearer "+token)
			handler(&ctx)
			got := ctx.Response.StatusCode()
			switch allowed := user.Can(adminauth.Permission(perm)); {
			case got == fasthttp.StatusUnauthorized:
				t.Errorf("%s as %s answered 401: the test's token was refused", name, role)
			case allowed && got == fasthttp.StatusForbidden:
				t.Errorf("%s as %s answered 403, but its x-permission %q allows %s", name, role, perm, role)
			case !allowed && got != fasthttp.StatusForbidden:
				t.Errorf("%s as %s answered %d, not 403, but its x-permission %q is not one %s holds", name, role, got, perm, role)
			}
		}
	}
}
