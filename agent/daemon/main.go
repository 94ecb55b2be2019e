package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
)

// Invocation is how the agent was started.
type Invocation struct {
	Args        []string // without the program name
	Getenv      func(string) string
	Stderr      io.Writer // logs, as JSON lines
	Version     string
	VersionCode int
}

// Main is the whole agent process: configure, open, run until ctx ends or
// the agent must stop. cmd/nexmdm-agent turns its error into an exit code.
func Main(ctx context.Context, inv Invocation) error {
	cfg, err := LoadConfig(inv.Args, inv.Getenv, runtime.GOOS, inv.Stderr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cfg.AgentVersion, cfg.AgentVersionCode = inv.Version, inv.VersionCode
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(inv.Stderr, &slog.HandlerOptions{Level: level}))
	deps, err := NewDeps(cfg, "/", log, level)
	if err != nil {
		return err
	}
	if err := cfg.FillIdentity(deps.Runner, "/"); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	a, err := Open(cfg, deps)
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("agent.start", "platform", cfg.Platform, "version", cfg.AgentVersion, "server", cfg.ServerURL,
		"state_dir", cfg.StateDir, "queue_depth", a.QueueDepth())
	err = a.Run(ctx)
	log.Info("agent.stop", "reason", fmt.Sprint(err))
	return err
}

// Exit codes, for scripts and service managers.
const (
	ExitOK           = 0
	ExitFailed       = 1
	ExitConfig       = 2
	ExitGone         = 3 // deleted or revoked: credentials wiped; restarting will not help
	ExitUnauthorized = 4 // not enrolled, or refused with no enroll key to enroll again
)

// ExitCode is the process exit code for Main's error.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrConfig):
		return ExitConfig
	case errors.Is(err, ErrGone):
		return ExitGone
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNotEnrolled):
		return ExitUnauthorized
	}
	return ExitFailed
}
