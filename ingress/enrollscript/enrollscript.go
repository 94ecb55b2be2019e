// Package enrollscript writes the zero-tap enrollment scripts: a bash
// script, a Windows cmd script and a one-liner for each, which take a
// factory-reset Android device over adb through nine steps to a
// registered, running agent. The steps, their exit codes and fixes, the
// permissions, tweaks and bloatware are data here, and text/template turns
// them into every form, so the forms cannot drift apart.
//
// User input never reaches a shell unquoted: the alias goes into bash in
// single quotes and into cmd only as base64 (and a sanitised copy to
// print); everything else is checked against a narrow pattern first.
package enrollscript

import (
	"bytes"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Kind is a script form.
type Kind string

// The four forms.
const (
	Bash       Kind = "sh"
	Cmd        Kind = "cmd"
	BashOneLn  Kind = "sh-oneliner"
	CmdOneLn   Kind = "cmd-oneliner"
	kindsUsage      = "sh, cmd, sh-oneliner or cmd-oneliner"
)

// Kinds lists the forms.
var Kinds = []Kind{Bash, Cmd, BashOneLn, CmdOneLn}

// ParseKind reads a form's name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("%q is not a script form; use %s", s, kindsUsage)
}

// Filename is what a downloaded full script is called.
func (k Kind) Filename(alias string) string {
	slug := strings.Trim(slugPattern.ReplaceAllString(strings.ToLower(alias), "-"), "-")
	if slug == "" {
		slug = "device"
	}
	ext := "sh"
	if k == Cmd || k == CmdOneLn {
		ext = "cmd"
	}
	return "nexmdm-enroll-" + slug + "." + ext
}

var slugPattern = regexp.MustCompile(`[^a-z0-9]+`)

// Build is the agent APK the scripts install.
type Build struct {
	ID          string
	Package     string
	VersionCode int32
	VersionName string
	SHA256      string
	Size        int64
}

// Params are one script's inputs.
type Params struct {
	ServerURL    string // where devices and this computer reach the server
	EnrollKey    string // an enroll-scoped API key, nxk_...
	KeyExpiresAt time.Time
	Alias        string
	Build        Build
	Bloatware    []string // nil: DefaultBloatware
}

func (p *Params) check() error {
	var errs []error
	if why := CheckAlias(p.Alias); why != "" {
		errs = append(errs, fmt.Errorf("alias %s", why))
	}
	if why := CheckServerURL(p.ServerURL); why != "" {
		errs = append(errs, fmt.Errorf("server URL %q %s", p.ServerURL, why))
	}
	if !keyPattern.MatchString(p.EnrollKey) {
		errs = append(errs, errors.New("the enroll key is not an API key"))
	}
	if !packagePattern.MatchString(p.Build.Package) || !hexPattern.MatchString(p.Build.SHA256) ||
		!uuidPattern.MatchString(p.Build.ID) || !plainPattern.MatchString(p.Build.VersionName) {
		errs = append(errs, fmt.Errorf("build %s cannot go into a script (package, SHA-256 or version name)", p.Build.ID))
	}
	for _, pkg := range p.Bloatware {
		if !packagePattern.MatchString(pkg) {
			errs = append(errs, fmt.Errorf("bloatware %q is not a package name", pkg))
		}
	}
	return errors.Join(errs...)
}

var (
	uuidPattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	plainPattern = regexp.MustCompile(`^[A-Za-z0-9._+ -]*$`)
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// templates holds one template set per shell: the full script and its
// one-liner share the quoting functions.
var templates = map[Kind]*template.Template{
	Bash:      parse("sh", "templates/enroll.sh.tmpl", shQuote),
	BashOneLn: parse("sh", "templates/oneliner.sh.tmpl", shQuote),
	Cmd:       parse("cmd", "templates/enroll.cmd.tmpl", cmdEcho),
	CmdOneLn:  parse("cmd", "templates/oneliner.cmd.tmpl", cmdEcho),
}

func parse(shell, file string, quote func(string) string) *template.Template {
	byKey := map[string]Failure{}
	for _, f := range failures {
		byKey[f.Key] = f
	}
	funcs := template.FuncMap{
		"q": quote,
		"fail": func(key string) (string, error) { // a failure's label; an unknown key fails the render
			f, ok := byKey[key]
			if !ok {
				return "", fmt.Errorf("no failure %q", key)
			}
			return f.Label(), nil
		},
		"step": func(n int) Step { return Steps[n-1] },
	}
	name := file[strings.LastIndex(file, "/")+1:]
	return template.Must(template.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(templateFiles, file))
}

// view is what the templates see: every value checked, placeholders filled.
type view struct {
	Params
	AliasB64, AliasShown, Expires string
	Steps                         []Step
	Failures                      []Failure
	Permissions                   []Permission
	AppOps                        []string
	Tweaks                        []Tweak
	ManualSteps                   []ManualStep
	BloatwareCommand              string
	AdminComponent                string
	ConfigAction, ConfigComponent string
	ScriptURL                     string // where a one-liner fetches its full script
}

// Render writes one form of the script.
func Render(kind Kind, p Params) (string, error) {
	if p.Bloatware == nil {
		p.Bloatware = DefaultBloatware()
	}
	if err := p.check(); err != nil {
		return "", err
	}
	t, ok := templates[kind]
	if !ok {
		return "", fmt.Errorf("%q is not a script form; use %s", kind, kindsUsage)
	}
	fill := p.filler()
	v := view{
		Params: p, AliasShown: displayAlias(p.Alias), Expires: p.KeyExpiresAt.UTC().Format(time.RFC3339),
		AliasB64: base64.RawURLEncoding.EncodeToString([]byte(p.Alias)),
		Steps:    Steps, Permissions: permissions, AppOps: appOps,
		BloatwareCommand: "for p in " + strings.Join(p.Bloatware, " ") +
			"; do pm disable-user --user 0 $p 2>&1 | grep -q 'new state' && echo disabled $p; done",
		AdminComponent: p.Build.Package + "/" + adminReceiver,
		ConfigAction:   configAction, ConfigComponent: p.Build.Package + "/" + configReceiver,
	}
	switch kind { // a one-liner fetches its shell's full script
	case BashOneLn:
		v.ScriptURL = p.ServerURL + "/v1/enroll/script?kind=sh&alias_b64=" + v.AliasB64
	case CmdOneLn:
		v.ScriptURL = p.ServerURL + "/v1/enroll/script?kind=cmd&alias_b64=" + v.AliasB64
	}
	for _, f := range failures {
		f.Fix = fill(f.Fix)
		hints := make([]Hint, len(f.Hints))
		for i, h := range f.Hints {
			hints[i] = Hint{h.Match, fill(h.Fix)}
		}
		f.Hints = hints
		v.Failures = append(v.Failures, f)
	}
	for _, t := range tweaks {
		v.Tweaks = append(v.Tweaks, Tweak{fill(t.Title), fill(t.Command), t.Required})
	}
	for _, m := range manualSteps {
		v.ManualSteps = append(v.ManualSteps, ManualStep{m.What, m.Android, fill(m.Path)})
	}
	var out bytes.Buffer
	if err := t.Execute(&out, v); err != nil {
		return "", fmt.Errorf("render %s script: %w", kind, err)
	}
	if kind == Cmd || kind == CmdOneLn {
		return strings.ReplaceAll(out.String(), "\n", "\r\n"), nil
	}
	return out.String(), nil
}

// filler puts the script's package, components, server and key expiry
// into a text's placeholders.
func (p *Params) filler() func(string) string {
	return strings.NewReplacer("{PKG}", p.Build.Package, "{ADMIN}", p.Build.Package+"/"+adminReceiver,
		"{RECEIVER}", p.Build.Package+"/"+configReceiver, "{ACTION}", configAction,
		"{SERVER}", p.ServerURL, "{EXPIRES}", p.KeyExpiresAt.UTC().Format(time.RFC3339)).Replace
}

// DecodeAlias reads the alias a one-liner sends as alias_b64.
func DecodeAlias(b64 string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", errors.New("alias_b64 is not base64url without padding")
	}
	return string(b), nil
}
