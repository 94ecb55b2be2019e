// Package executor runs the commands a device receives, one Executor per
// command type. Android's set drives the platform tools (am, pm, svc,
// input); Linux's set is deliberately small and safe. A command type a
// platform does not have fails with a message that says so, never silently.
package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Params are a command's parameters, decoded from its signed params_json.
type Params map[string]any

// String is the parameter name as a string, or "".
func (p Params) String(name string) string {
	s, _ := p[name].(string)
	return s
}

// Outcome is what a command did.
type Outcome struct {
	Message string
	Output  string
	// Then runs after the result is safely queued: a reboot must not
	// happen before the device has written down that it was asked to.
	Then func()
}

// Executor runs one command type. An error is a failed command; its text
// is the result's message.
type Executor interface {
	Execute(ctx context.Context, p Params) (Outcome, error)
}

// Func adapts a function to Executor.
type Func func(ctx context.Context, p Params) (Outcome, error)

// Execute implements Executor.
func (f Func) Execute(ctx context.Context, p Params) (Outcome, error) { return f(ctx, p) }

// Set is a platform's executors by command type.
type Set map[string]Executor

// Limits of a result, as the server accepts it.
const (
	MaxMessage = 1024
	MaxOutput  = 64 << 10
)

// Run executes a command: it decodes params, finds the executor and bounds
// the result to what the server accepts.
func (s Set) Run(ctx context.Context, typ, paramsJSON string) (Outcome, error) {
	ex, ok := s[typ]
	if !ok {
		return Outcome{}, fmt.Errorf("this agent does not run %q commands on this platform", typ)
	}
	p := Params{}
	if paramsJSON != "" {
		if err := json.Unmarshal([]byte(paramsJSON), &p); err != nil {
			return Outcome{}, fmt.Errorf("params_json is not a JSON object: %v", err)
		}
	}
	out, err := ex.Execute(ctx, p)
	out.Message = truncate(out.Message, MaxMessage)
	out.Output = truncate(out.Output, MaxOutput)
	return out, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Runner runs a program and returns its combined output.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs programs with os/exec, each bounded by Timeout.
type ExecRunner struct{ Timeout time.Duration }

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(tail(out.String(), 300)))
	}
	return out.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// Hooks are what commands change in the agent itself.
type Hooks struct {
	SetConfig   func(p Params) (string, error) // applies set_config; says what changed
	CheckUpdate func()                         // asks the updater to check now
	// InstallAPK downloads, verifies and installs a registry build.
	InstallAPK func(ctx context.Context, url, sha256 string, size int64) error
}

// Options shape a platform's set.
type Options struct {
	AllowShell bool // shell runs only where the operator allowed it on the device too
}

var androidPackage = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)

// packageParam is the checked package parameter: the signature proves the
// server sent it, this keeps a server bug from reaching a shell tool.
func packageParam(p Params) (string, error) {
	pkg := p.String("package")
	if !androidPackage.MatchString(pkg) {
		return "", fmt.Errorf("params.package %q is not an Android package name", pkg)
	}
	return pkg, nil
}

// common are the executors every platform has.
func common(run Runner, h Hooks, o Options) Set {
	s := Set{
		"ping": Func(func(context.Context, Params) (Outcome, error) { return Outcome{Message: "pong"}, nil }),
		"set_config": Func(func(_ context.Context, p Params) (Outcome, error) {
			msg, err := h.SetConfig(p)
			return Outcome{Message: msg}, err
		}),
		"check_update": Func(func(context.Context, Params) (Outcome, error) {
			return Outcome{Message: "checking for an update", Then: h.CheckUpdate}, nil
		}),
	}
	if o.AllowShell {
		s["shell"] = Func(func(ctx context.Context, p Params) (Outcome, error) {
			out, err := run.Run(ctx, "sh", "-c", p.String("cmd"))
			return Outcome{Message: "exit 0", Output: string(out)}, err
		})
	}
	return s
}

// Linux is the safe set for a Linux device: ping, set_config,
// check_update, and shell when allowed.
func Linux(run Runner, h Hooks, o Options) Set { return common(run, h, o) }

// Android is the full set, through the platform's shell tools.
func Android(run Runner, h Hooks, o Options) Set {
	s := common(run, h, o)
	tool := func(msg string, argv func(pkg string) []string) Executor {
		return Func(func(ctx context.Context, p Params) (Outcome, error) {
			pkg, err := packageParam(p)
			if err != nil {
				return Outcome{}, err
			}
			a := argv(pkg)
			out, err := run.Run(ctx, a[0], a[1:]...)
			return Outcome{Message: fmt.Sprintf(msg, pkg), Output: string(out)}, err
		})
	}
	s["stop_app"] = tool("stopped %s", func(pkg string) []string { return []string{"am", "force-stop", pkg} })
	s["clear_app_data"] = tool("cleared the data of %s", func(pkg string) []string { return []string{"pm", "clear", pkg} })
	s["disable_package"] = tool("disabled %s", func(pkg string) []string { return []string{"pm", "disable-user", "--user", "0", pkg} })
	s["enable_package"] = tool("enabled %s", func(pkg string) []string { return []string{"pm", "enable", pkg} })
	s["uninstall_app"] = tool("uninstalled %s", func(pkg string) []string { return []string{"pm", "uninstall", pkg} })
	s["install_apk"] = Func(func(ctx context.Context, p Params) (Outcome, error) { return installAPK(ctx, h, p) })
	s["launch_app"] = Func(func(ctx context.Context, p Params) (Outcome, error) { return launch(ctx, run, p) })
	s["lock"] = Func(func(ctx context.Context, _ Params) (Outcome, error) {
		out, err := run.Run(ctx, "input", "keyevent", "KEYCODE_SLEEP")
		return Outcome{Message: "screen locked", Output: string(out)}, err
	})
	s["reboot"] = Func(func(ctx context.Context, _ Params) (Outcome, error) {
		return Outcome{Message: "rebooting", Then: func() {
			// The device goes down here; there is no one left to tell.
			_, _ = run.Run(context.Background(), "svc", "power", "reboot", "nexmdm")
		}}, nil
	})
	return s
}

// installAPK installs the build the server named; its URL and SHA-256 are
// in the signed parameters, so the file is bound to what the admin chose.
func installAPK(ctx context.Context, h Hooks, p Params) (Outcome, error) {
	url, sha := p.String("url"), p.String("sha256")
	size, _ := p["size"].(float64)
	if !strings.HasPrefix(url, "/v1/agent/download/") || len(sha) != 64 {
		return Outcome{}, fmt.Errorf("install_apk needs the url and sha256 the server adds when it signs the command")
	}
	if err := h.InstallAPK(ctx, url, sha, int64(size)); err != nil {
		return Outcome{}, err
	}
	return Outcome{Message: fmt.Sprintf("installed %s version %v", p.String("package"), p["version_code"])}, nil
}

// launch starts a package's launcher activity, resolved by the package
// manager so the server need not know activity names.
func launch(ctx context.Context, run Runner, p Params) (Outcome, error) {
	pkg, err := packageParam(p)
	if err != nil {
		return Outcome{}, err
	}
	out, err := run.Run(ctx, "cmd", "package", "resolve-activity", "--brief", "-c", "android.intent.category.LAUNCHER", pkg)
	if err != nil {
		return Outcome{Output: string(out)}, fmt.Errorf("resolve the launcher activity of %s: %w", pkg, err)
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "/") {
		return Outcome{Output: string(out)}, fmt.Errorf("%s has no launcher activity (is it installed?)", pkg)
	}
	component := lines[len(lines)-1]
	out, err = run.Run(ctx, "am", "start", "-n", component)
	return Outcome{Message: "launched " + component, Output: string(out)}, err
}
