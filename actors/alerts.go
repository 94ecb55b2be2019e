package actors

import (
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// String is the rule's stable name, as stored and configured.
func (r Rule) String() string {
	switch r {
	case RuleOffline:
		return "offline"
	case RuleLowBattery:
		return "low_battery"
	case RuleServiceDown:
		return "service_down"
	}
	return "unknown"
}

// AlertConfig are the rules' thresholds.
type AlertConfig struct {
	LowBatteryPct      int           // fires below this, when not charging
	LowBatteryClearPct int           // resolves at or above this, or on a charger: hysteresis
	Cooldown           time.Duration // a rule that fires again this soon is recorded, not notified
}

// DefaultAlertConfig is the seeds' 15 %, clearing at 20 %, 30 minutes of
// cooldown.
func DefaultAlertConfig() AlertConfig {
	return AlertConfig{LowBatteryPct: 15, LowBatteryClearPct: 20, Cooldown: 30 * time.Minute}
}

// AlertTransition is a rule firing or resolving on one device.
type AlertTransition struct {
	Device  uuid.UUID
	Rule    Rule
	Fired   bool // false: resolved
	At      time.Time
	Quiet   bool           // fired again within the cooldown: recorded and shown, not notified
	Details map[string]any // what an operator needs to act: the service, the level, the times
}

// AlertSink takes transitions from device actors. It must not block.
type AlertSink interface {
	AlertTransition(t AlertTransition)
}

// evaluateAlerts moves each rule to what the device's state says now.
// Device actors call it on every heartbeat and sweep tick, so alert state
// needs no polling of the database.
func (a *deviceActor) evaluateAlerts(now time.Time) {
	if a.sh.alerts == nil {
		return
	}
	a.setRule(RuleOffline, !a.st.online && a.st.lastSeen != 0, now, func() map[string]any {
		return map[string]any{"last_seen": a.st.seenAt(), "offline_after_s": int(a.sh.cfg.OfflineAfter / time.Second)}
	})
	if h := &a.st.live; h.Has&persistence.HasBattery != 0 {
		a.setRule(RuleLowBattery, a.batteryLow(h), now, func() map[string]any {
			return map[string]any{"battery_pct": h.BatteryPct, "charging": h.Charging, "threshold_pct": a.sh.alertCfg.LowBatteryPct}
		})
	}
	m := &a.st.monitoring
	switch {
	case !m.Enabled || m.Package == "":
		a.setRule(RuleServiceDown, false, now, nil)
	case a.st.online: // an offline device's service is unknown: leave the rule as it is
		threshold := time.Duration(m.ThresholdMin) * time.Minute
		down := now.UnixMilli()-a.st.monitoredLastFG > threshold.Milliseconds()
		a.setRule(RuleServiceDown, down, now, func() map[string]any {
			d := map[string]any{"package": m.Package, "service": m.DisplayName, "threshold_min": m.ThresholdMin,
				"auto_remediate": m.AutoRemediate, "last_foreground": nil}
			if a.st.monitoredLastFG > 0 {
				d["last_foreground"] = time.UnixMilli(a.st.monitoredLastFG).UTC()
			}
			return d
		})
	}
}

// batteryLow is the low-battery rule with hysteresis: it fires below
// LowBatteryPct off the charger and stays until LowBatteryClearPct or a
// charger, so a level wobbling at 14-15-16 % is one alert.
func (a *deviceActor) batteryLow(h *persistence.Heartbeat) bool {
	charging := h.Has&persistence.HasCharging != 0 && h.Charging
	pct := int(h.BatteryPct)
	if a.st.alerts.Open&(1<<RuleLowBattery) != 0 {
		return !charging && pct < a.sh.alertCfg.LowBatteryClearPct
	}
	return !charging && pct < a.sh.alertCfg.LowBatteryPct
}

// setRule records a transition when the rule's state changes: one open
// alert per device and rule, and a quiet one inside the cooldown.
func (a *deviceActor) setRule(r Rule, firing bool, now time.Time, details func() map[string]any) {
	bit := uint8(1) << r
	if firing == (a.st.alerts.Open&bit != 0) {
		return
	}
	t := AlertTransition{Device: a.id, Rule: r, Fired: firing, At: now}
	if details != nil {
		t.Details = details()
	}
	if firing {
		a.st.alerts.Open |= bit
		a.st.alerts.OpenedAt[r] = now.Unix()
		if now.Unix()-a.st.alerts.LastFired[r] < int64(a.sh.alertCfg.Cooldown/time.Second) {
			t.Quiet = true
		} else {
			a.st.alerts.LastFired[r] = now.Unix()
		}
	} else {
		a.st.alerts.Open &^= bit
	}
	a.dirty, a.viewStale = true, true // the fleet summary counts alerting devices
	a.sh.alerts.AlertTransition(t)
}
