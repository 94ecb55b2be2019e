// Command nexmdm-agent is the NexMDM device agent for Linux and, built with
// GOOS=android GOARCH=arm64 CGO_ENABLED=0, for Android under adb shell.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	// Go on Android has no zone database of its own; usage times need one.
	_ "time/tzdata"

	"github.com/nexmdm/nexmdm/agent/daemon"
)

// Set at build time: -ldflags "-X main.version=1.4.0 -X main.versionCode=140".
var (
	version     = "dev"
	versionCode = "1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, _ := strconv.Atoi(versionCode)
	err := daemon.Main(ctx, daemon.Invocation{
		Args: os.Args[1:], Getenv: os.Getenv, Stderr: os.Stderr, Version: version, VersionCode: code,
	})
	stop()
	if errors.Is(err, daemon.ErrRestart) {
		restart()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexmdm-agent:", err)
	}
	os.Exit(daemon.ExitCode(err))
}

// restart replaces this process with the updated binary, same arguments.
func restart() {
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "nexmdm-agent: restart into the update failed:", err)
	os.Exit(daemon.ExitFailed)
}
