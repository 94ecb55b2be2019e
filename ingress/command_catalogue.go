package ingress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// commandSpec is one command type: the parameters it takes, and who may
// send it.
type commandSpec struct {
	params    []paramSpec
	adminOnly bool // beyond the command permission: the admin role
	gated     bool // off unless the server allows it (shell)
}

// paramSpec is one parameter of a command type.
type paramSpec struct {
	name     string
	required bool
	check    func(v any) string // "" when v is acceptable, else what it must be
}

var packageParam = paramSpec{name: "package", required: true, check: func(v any) string {
	if s, ok := v.(string); ok && len(s) <= 255 && androidPackage.MatchString(s) {
		return ""
	}
	return "an Android package name such as com.example.app"
}}

// commandCatalogue is every command type the agent executes.
var commandCatalogue = map[string]commandSpec{
	"ping":            {},
	"reboot":          {},
	"lock":            {},
	"check_update":    {},
	"launch_app":      {params: []paramSpec{packageParam}},
	"stop_app":        {params: []paramSpec{packageParam}},
	"clear_app_data":  {params: []paramSpec{packageParam}},
	"disable_package": {params: []paramSpec{packageParam}},
	"enable_package":  {params: []paramSpec{packageParam}},
	"uninstall_app":   {params: []paramSpec{packageParam}},
	"install_apk": {params: []paramSpec{{name: "build_id", required: true, check: func(v any) string {
		if s, ok := v.(string); ok {
			if _, err := uuid.Parse(s); err == nil {
				return ""
			}
		}
		return "the id (a UUID) of a build in the APK registry"
	}}}},
	"set_config": {params: []paramSpec{
		{name: "heartbeat_interval_s", check: intRange(30, 3600)},
		{name: "queue_max_items", check: intRange(50, 5000)},
		{name: "log_level", check: oneOf("debug", "info", "warn", "error")},
	}},
	"shell": {adminOnly: true, gated: true, params: []paramSpec{{name: "cmd", required: true, check: func(v any) string {
		if s, ok := v.(string); ok && s != "" && len(s) <= 4096 && !strings.ContainsRune(s, 0) {
			return ""
		}
		return "a shell command line of at most 4096 bytes"
	}}}},
}

func intRange(lo, hi int) func(any) string {
	return func(v any) string {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil && i >= int64(lo) && i <= int64(hi) {
				return ""
			}
		}
		return fmt.Sprintf("an integer from %d to %d", lo, hi)
	}
}

func oneOf(allowed ...string) func(any) string {
	return func(v any) string {
		if s, ok := v.(string); ok && slices.Contains(allowed, s) {
			return ""
		}
		return "one of " + strings.Join(allowed, ", ")
	}
}

// commandTypes lists the catalogue, for error messages.
func commandTypes() string {
	names := make([]string, 0, len(commandCatalogue))
	for n := range commandCatalogue {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// canonicalParams checks a command's parameters against its type and
// returns them as the compact JSON that is signed and delivered: keys
// sorted, nothing unknown, no insignificant space.
func canonicalParams(typ string, raw json.RawMessage) (string, *Error) {
	spec := commandCatalogue[typ]
	params := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil {
			return "", fieldError("params", "must be a JSON object")
		}
	}
	for name := range params {
		if !slices.ContainsFunc(spec.params, func(p paramSpec) bool { return p.name == name }) {
			return "", fieldError("params."+name, "is not a parameter of %s", typ)
		}
	}
	for _, p := range spec.params {
		v, ok := params[p.name]
		if !ok {
			if p.required {
				return "", &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "params." + p.name,
					Message: fmt.Sprintf("params.%s is required by %s", p.name, typ)}
			}
			continue
		}
		if want := p.check(v); want != "" {
			return "", fieldError("params."+p.name, "must be %s", want)
		}
	}
	if typ == "set_config" && len(params) == 0 {
		return "", fieldError("params", "must set at least one of heartbeat_interval_s, queue_max_items, log_level")
	}
	b, _ := json.Marshal(params) // map keys are sorted; values came from JSON
	return string(b), nil
}
