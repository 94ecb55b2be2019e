package daemon

import (
	"context"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/telemetry"
)

// bucketWidth is the server's dedupe bucket: heartbeats in one coalesce.
const bucketWidth = 10 * time.Second

// heartbeatLoop reads the device and queues a heartbeat every interval,
// starting at once.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	for {
		a.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.currentInterval()):
		case <-a.heartbeatCh:
		}
	}
}

// beat queues one heartbeat and wakes the drain. The heartbeat goes
// through the queue even when the network is up, so that nothing read is
// lost to a crash between reading and sending.
func (a *Agent) beat(ctx context.Context) {
	r, err := a.deps.Collector.Collect(ctx)
	if err != nil {
		a.deps.Log.Warn("telemetry.fail", "err", err.Error())
	}
	a.mu.Lock()
	a.reading = r
	keyID := ""
	if a.creds != nil {
		keyID = a.creds.NewestKey
	}
	a.mu.Unlock()
	ts := a.deps.Now()
	hb := a.heartbeat(ts, r, keyID)
	if err := a.q.EnqueueHeartbeat(ts.UnixNano()/int64(bucketWidth), hb.AppendJSON(nil)); err != nil {
		a.deps.Log.Error("queue.enqueue", "kind", "heartbeat", "err", err.Error())
		return
	}
	a.kick(a.drainNow)
}

func (a *Agent) heartbeat(ts time.Time, r telemetry.Reading, keyID string) *client.Heartbeat {
	depth := a.q.Len()
	var code *int
	if a.cfg.AgentVersionCode > 0 {
		code = &a.cfg.AgentVersionCode
	}
	return &client.Heartbeat{
		TS: ts, BatteryPct: r.BatteryPct, Charging: r.Charging,
		RAMUsedMB: r.RAMUsedMB, RAMTotalMB: r.RAMTotalMB, UptimeS: r.UptimeS,
		NetType: r.NetType, SSID: r.SSID, SignalDBm: r.SignalDBm,
		AgentVersion: a.cfg.AgentVersion, AgentVersionCode: code,
		ForegroundPkg: r.ForegroundPkg, AppLastForeground: r.AppLastForeground,
		PowerOK: r.PowerOK, DozeWhitelisted: r.DozeWhitelisted, NetValidated: r.NetValidated,
		QueueDepth: &depth, HMACKeyID: keyID,
	}
}

func (a *Agent) currentInterval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.settings.HeartbeatIntervalS > 0 {
		return time.Duration(a.settings.HeartbeatIntervalS) * time.Second
	}
	return a.interval
}

// setServerInterval takes the interval the server asks for; callers hold mu.
func (a *Agent) setServerInterval(secs int) {
	if secs > 0 {
		a.interval = time.Duration(secs) * time.Second
	}
}

// lowPower is the seed's rule: below 10% and not charging, retries that
// can wait, wait.
func (a *Agent) lowPower() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reading
	return r.BatteryPct != nil && *r.BatteryPct < 10 && (r.Charging == nil || !*r.Charging)
}

// netWatch polls connectivity and drains the moment it returns, rather than
// waiting out a backoff that started while the device was offline.
func (a *Agent) netWatch(ctx context.Context) {
	if a.deps.Online == nil {
		return
	}
	online := a.deps.Online()
	t := time.NewTicker(a.cfg.NetPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := a.deps.Online()
		if now == online {
			continue
		}
		online = now
		a.deps.Log.Info("net.change", "online", now)
		if now {
			a.deps.Log.Info("net.regain", "queue_depth", a.q.Len())
			a.kick(a.netBack)
		}
	}
}
