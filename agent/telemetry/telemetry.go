// Package telemetry reads what a device reports in its heartbeats: battery,
// memory, uptime, the network it is on, whether the agent may run
// unrestricted, and which apps were last in the foreground. NewLinux reads
// /proc and /sys; NewAndroid reads the same /proc files and asks the device's
// dumpsys and cmd for the rest. Every parser is a pure function over a file's
// or a command's bytes, so each is tested on output captured from real devices.
package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Reading is one sample of the device's state. Nil pointers and empty strings
// are things the collector could not read; they are left out of the
// heartbeat, never guessed.
type Reading struct {
	BatteryPct        *int
	Charging          *bool
	RAMUsedMB         *int
	RAMTotalMB        *int
	UptimeS           *int64
	NetType           string // "wifi", "cellular", "ethernet", "none", or "" when unknown
	SSID              string
	SignalDBm         *int
	ForegroundPkg     string
	AppLastForeground map[string]int64 // package -> unix ms of last foreground use
	PowerOK           *bool            // the agent may run unrestricted: on Android, doze-whitelisted and not background-restricted; on Linux, true
	DozeWhitelisted   *bool
	NetValidated      *bool // the active network reaches the internet (Android: VALIDATED capability); on Linux: a default route exists
}

// empty reports whether nothing at all was read into r.
func (r Reading) empty() bool {
	return r.BatteryPct == nil && r.Charging == nil && r.RAMUsedMB == nil &&
		r.RAMTotalMB == nil && r.UptimeS == nil && r.NetType == "" &&
		r.SSID == "" && r.SignalDBm == nil && r.ForegroundPkg == "" &&
		r.AppLastForeground == nil && r.PowerOK == nil &&
		r.DozeWhitelisted == nil && r.NetValidated == nil
}

// Collector reads the device's state. A collector returns what it could
// read; err is non-nil only when it could read nothing at all. A missing
// source (no battery on a server, a dumpsys that fails) just leaves its
// fields nil.
type Collector interface {
	Collect(ctx context.Context) (Reading, error)
}

// errNothingRead is what Collect wraps when no source could be read.
var errNothingRead = errors.New("telemetry: nothing could be read")

// nothingRead wraps the sources' errors, so a caller can log why.
func nothingRead(errs []error) error {
	return fmt.Errorf("%w: %w", errNothingRead, errors.Join(errs...))
}

// Runner runs a device command and returns its stdout (Android's dumpsys, cmd).
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// defaultCommandTimeout bounds a command when ExecRunner.Timeout is zero.
const defaultCommandTimeout = 10 * time.Second

// ExecRunner runs commands with os/exec, each bounded by Timeout
// (10 s when zero), so a hung dumpsys cannot stall a
// heartbeat.
type ExecRunner struct{ Timeout time.Duration }

// Run runs name with args and returns its stdout. A non-zero exit is an
// error that carries the start of stderr.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		line := strings.Join(append([]string{name}, args...), " ")
		return nil, fmt.Errorf("%s: %w: %s", line, err, firstLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func ptr[T any](v T) *T { return &v }

// lines splits command output into lines, dropping the carriage returns that
// adb's pseudo-terminal adds.
func lines(b []byte) []string {
	return strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
}
