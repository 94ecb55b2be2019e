package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
	"github.com/nexmdm/nexmdm/agent/executor"
)

// commandTimeout bounds one command's run.
const commandTimeout = 2 * time.Minute

// Push hands the agent a data message from its push channel (FCM on
// Android; a local channel in tests). Commands arrive this way and by pull,
// perhaps both: each runs once.
func (a *Agent) Push(data map[string]string) {
	if data["kind"] != "command" {
		return
	}
	select {
	case a.commands <- []byte(data["command"]):
	default:
		// Full: the server delivers the command again with the next heartbeat.
		a.deps.Log.Warn("command.drop", "reason", "push backlog full")
	}
}

// commandLoop runs commands one at a time, in arrival order.
func (a *Agent) commandLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case raw := <-a.commands:
			a.handle(ctx, raw)
		}
	}
}

// handle verifies, runs and reports one command. The id is recorded before
// it runs, so a crash mid-command never runs it twice; a rejected command
// is reported too, so the operator sees why it failed.
func (a *Agent) handle(ctx context.Context, raw []byte) {
	var c command.Command
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		a.deps.Log.Warn("command.reject", "reason", "not a command")
		return
	}
	fresh, err := a.st.markSeen(c.ID, a.deps.Now())
	if err != nil {
		a.deps.Log.Error("command.seen", "err", err.Error())
		return
	}
	if !fresh {
		a.deps.Log.Debug("command.repeat", "id", c.ID)
		return
	}
	a.mu.Lock()
	creds := a.creds
	a.mu.Unlock()
	if creds == nil {
		return // wiped after a 410: the agent is stopping
	}
	deviceID, keys := creds.DeviceID, creds.commandKeys()
	if err := command.Verify(&c, deviceID, keys, a.deps.Now()); err != nil {
		a.deps.Log.Warn("command.reject", "id", c.ID, "type", c.Type, "reason", err.Error())
		a.report(c.ID, executor.Outcome{}, fmt.Errorf("rejected by the device: %w", err))
		return
	}
	a.deps.Log.Info("command.run", "id", c.ID, "type", c.Type)
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	out, err := a.exec.Run(cctx, c.Type, c.ParamsJSON)
	cancel()
	a.report(c.ID, out, err)
	if out.Then != nil {
		out.Then()
	}
}

// report queues a command's result; the drain posts it.
func (a *Agent) report(id string, out executor.Outcome, err error) {
	r := &client.ActionResult{CommandID: id, Status: client.ResultSucceeded, Message: out.Message,
		Output: out.Output, FinishedAt: a.deps.Now()}
	if err != nil {
		r.Status, r.Message = client.ResultFailed, truncate(err.Error(), executor.MaxMessage)
	}
	body, _ := json.Marshal(r)
	if err := a.q.EnqueueResult(id, body); err != nil {
		a.deps.Log.Error("queue.enqueue", "kind", "result", "id", id, "err", err.Error())
		return
	}
	a.deps.Log.Info("queue.enqueue", "kind", "result", "id", id, "status", r.Status, "depth", a.q.Len())
	a.kick(a.drainNow)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (a *Agent) executors() executor.Set {
	hooks := executor.Hooks{SetConfig: a.setConfig, CheckUpdate: func() { a.kick(a.updateNow) },
		InstallAPK: func(ctx context.Context, url, sha256 string, size int64) error {
			return a.updater.InstallFile(ctx, url, sha256, size)
		}}
	opts := executor.Options{AllowShell: a.cfg.AllowShell}
	if a.cfg.Platform == PlatformAndroid {
		return executor.Android(a.deps.Runner, hooks, opts)
	}
	return executor.Linux(a.deps.Runner, hooks, opts)
}

// setConfig applies set_config and keeps it across restarts.
func (a *Agent) setConfig(p executor.Params) (string, error) {
	a.mu.Lock()
	next := a.settings
	a.mu.Unlock()
	var changed []string
	if v, ok := p["heartbeat_interval_s"].(float64); ok {
		if v < 30 || v > 3600 {
			return "", fmt.Errorf("heartbeat_interval_s %v is outside 30..3600", v)
		}
		next.HeartbeatIntervalS = int(v)
		changed = append(changed, fmt.Sprintf("heartbeat every %d s", int(v)))
	}
	if v, ok := p["queue_max_items"].(float64); ok {
		if v < 50 || v > 5000 {
			return "", fmt.Errorf("queue_max_items %v is outside 50..5000", v)
		}
		next.QueueMaxItems = int(v)
		changed = append(changed, fmt.Sprintf("queue holds %d items", int(v)))
	}
	if v, ok := p["log_level"].(string); ok {
		if v != "debug" && v != "info" && v != "warn" && v != "error" {
			return "", fmt.Errorf("log_level %q is not debug, info, warn or error", v)
		}
		next.LogLevel = v
		changed = append(changed, "log level "+v)
	}
	if len(changed) == 0 {
		return "", fmt.Errorf("set_config needs heartbeat_interval_s, queue_max_items or log_level")
	}
	if err := a.st.save("settings", next); err != nil {
		return "", err
	}
	a.mu.Lock()
	a.settings = next
	a.mu.Unlock()
	if next.QueueMaxItems > 0 {
		a.q.SetMaxItems(next.QueueMaxItems)
	}
	if next.LogLevel != "" && a.deps.LogLevel != nil {
		a.deps.LogLevel.Set(parseLevel(next.LogLevel))
	}
	a.kick(a.heartbeatCh)
	return strings.Join(changed, "; "), nil
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
