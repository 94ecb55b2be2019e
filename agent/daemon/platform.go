package daemon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/agent/executor"
	"github.com/nexmdm/nexmdm/agent/ota"
	"github.com/nexmdm/nexmdm/agent/telemetry"
)

// NewDeps builds the parts for the configured platform, reading the real
// device under root ("/").
func NewDeps(cfg Config, root string, log *slog.Logger, level *slog.LevelVar) (Deps, error) {
	run := executor.ExecRunner{Timeout: 30 * time.Second}
	d := Deps{
		HTTP:     &http.Client{Timeout: 60 * time.Second},
		Runner:   run,
		Online:   func() bool { return telemetry.Online(root) },
		Now:      time.Now,
		Rand:     cryptoFloat,
		Log:      log,
		LogLevel: level,
	}
	if cfg.Platform == PlatformAndroid {
		watched := append([]string{cfg.AppPackage}, cfg.WatchPackages...)
		d.Collector = telemetry.NewAndroid(telemetry.ExecRunner{Timeout: 10 * time.Second}, root, cfg.AppPackage, func() []string { return watched })
		d.Platform = ota.Android{Run: run.Run}
		d.InCall = func() bool {
			out, err := run.Run(context.Background(), "dumpsys", "telephony.registry")
			return err == nil && inCall(out)
		}
		return d, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return Deps{}, fmt.Errorf("find the agent's binary: %w", err)
	}
	d.Collector = telemetry.NewLinux(root)
	d.Platform = ota.Linux{Executable: exe}
	return d, nil
}

// cryptoFloat is a jitter source that differs on every device, even ones
// cloned from one image with one seed.
func cryptoFloat() float64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0.5
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

var callState = regexp.MustCompile(`mCallState=(\d+)`)

// inCall reads `dumpsys telephony.registry`: any SIM with a call state
// other than idle (0) is in a call.
func inCall(out []byte) bool {
	for _, m := range callState.FindAllSubmatch(out, -1) {
		if string(m[1]) != "0" {
			return true
		}
	}
	return false
}

// FillIdentity defaults the alias and serial from the device.
func (c *Config) FillIdentity(run executor.Runner, root string) error {
	if c.Serial == "" {
		c.Serial = c.deviceSerial(run, root)
	}
	if c.Serial == "" {
		return fmt.Errorf("cannot read this device's serial: pass --serial")
	}
	if c.Alias == "" {
		c.Alias, _ = os.Hostname()
		if c.Platform == PlatformAndroid {
			if out, err := run.Run(context.Background(), "getprop", "ro.product.model"); err == nil {
				c.Alias = strings.TrimSpace(string(out)) + " " + c.Serial
			}
		}
	}
	return nil
}

func (c *Config) deviceSerial(run executor.Runner, root string) string {
	if c.Platform == PlatformAndroid {
		out, err := run.Run(context.Background(), "getprop", "ro.serialno")
		if err == nil {
			return strings.TrimSpace(string(out))
		}
		return ""
	}
	b, err := os.ReadFile(root + "/etc/machine-id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
