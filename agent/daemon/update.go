package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/ota"
)

// How often the agent asks for an update: the seed's six hours, and sooner
// while an offer waits for its conditions.
const (
	updateEvery      = 6 * time.Hour
	updateDeferRetry = 15 * time.Minute
)

func (a *Agent) newUpdater() *ota.Updater {
	return &ota.Updater{
		Client:   a.proto,
		BaseURL:  a.cfg.ServerURL,
		HTTP:     a.deps.HTTP,
		Token:    a.token,
		Channel:  a.cfg.Channel,
		Dir:      filepath.Join(a.cfg.StateDir, "updates"),
		Platform: a.deps.Platform,
		Device:   a.updateConditions,
		Now:      a.deps.Now,
		Log:      a.deps.Log,
		Installed: func(o *client.UpdateOffer) {
			if a.cfg.Platform != PlatformAndroid {
				a.halt(ErrRestart) // pm install restarts an app; a binary restarts itself
			}
		},
	}
}

// updateLoop checks on start, every six hours and on check_update.
func (a *Agent) updateLoop(ctx context.Context) {
	for {
		wait := updateEvery
		switch out, err := a.updater.Check(ctx); {
		case errors.Is(err, client.ErrNotFound):
			a.deps.Log.Debug("ota.check", "result", "the server has no update endpoint")
		case err != nil:
			a.deps.Log.Warn("ota.check", "err", err.Error())
		case out == ota.Deferred:
			wait = updateDeferRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-a.updateNow:
		}
	}
}

func (a *Agent) updateConditions(context.Context) ota.Device {
	a.mu.Lock()
	r := a.reading
	a.mu.Unlock()
	d := ota.Device{OnWifi: r.NetType == "wifi", BatteryPct: r.BatteryPct, Charging: r.Charging != nil && *r.Charging}
	if a.deps.InCall != nil {
		d.InCall = a.deps.InCall()
	}
	return d
}
