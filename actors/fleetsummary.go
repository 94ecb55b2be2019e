package actors

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// BatteryBand is a range of battery levels in the fleet summary.
type BatteryBand struct {
	Name     string
	Min, Max int16 // inclusive
}

// BatteryBands are the summary's bands; devices that never reported a level
// are counted apart.
var BatteryBands = [...]BatteryBand{
	{"0-14", 0, 14}, {"15-29", 15, 29}, {"30-59", 30, 59}, {"60-100", 60, 100},
}

// LowBatteryPct is the level below which an unplugged device counts as low.
const LowBatteryPct = 15

// FleetSummary counts the fleet for the overview.
type FleetSummary struct {
	At             time.Time
	Total          int
	Online         int
	Offline        int
	Never          int // enrolled, never reported
	Alerting       int // with at least one open alert
	Battery        [len(BatteryBands)]int
	BatteryUnknown int
	Charging       int
	LowBattery     int            // online, below LowBatteryPct and not charging
	AgentVersions  map[string]int // "" for devices that reported none
	Monitored      int            // service monitoring enabled
	ServicesDown   int
}

// Summary counts every known device in one pass over memory.
func (d *Directory) Summary(now time.Time) FleetSummary {
	nowMs := now.UnixMilli()
	sum := FleetSummary{At: now, AgentVersions: make(map[string]int)}
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for i := range s.views {
			if v := &s.views[i]; !v.deleted {
				sum.add(v, nowMs)
			}
		}
		s.mu.RUnlock()
	}
	return sum
}

func (sum *FleetSummary) add(v *deviceView, nowMs int64) {
	sum.Total++
	switch {
	case v.online:
		sum.Online++
	case v.lastSeen == 0:
		sum.Never++
	default:
		sum.Offline++
	}
	if v.alerting {
		sum.Alerting++
	}
	sum.AgentVersions[v.agentVersion]++
	if v.charging {
		sum.Charging++
	}
	if v.battery < 0 {
		sum.BatteryUnknown++
	} else {
		for i, b := range BatteryBands {
			if v.battery >= b.Min && v.battery <= b.Max {
				sum.Battery[i]++
			}
		}
		if v.online && !v.charging && v.battery < LowBatteryPct {
			sum.LowBattery++
		}
	}
	if v.monitorEnabled {
		sum.Monitored++
		if v.serviceDown(nowMs) {
			sum.ServicesDown++
		}
	}
}

// VersionCount is how many devices run an agent version.
type VersionCount struct {
	VersionCode int `json:"version_code"`
	Devices     int `json:"devices"`
}

// AgentVersions counts devices by the agent_version_code of their newest
// heartbeat (0: never reported), newest version first; with onVersion > 0
// it also returns up to limit ids of the devices on that version.
func (d *Directory) AgentVersions(onVersion, limit int) ([]VersionCount, []uuid.UUID) {
	counts := map[int]int{}
	var ids []uuid.UUID
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for _, e := range s.m {
			if e.deleted {
				continue
			}
			v := &s.views[e.slot]
			code := int(v.versionCode)
			counts[code]++
			if onVersion > 0 && code == onVersion && len(ids) < limit {
				ids = append(ids, v.id)
			}
		}
		s.mu.RUnlock()
	}
	out := make([]VersionCount, 0, len(counts))
	for code, n := range counts {
		out = append(out, VersionCount{VersionCode: code, Devices: n})
	}
	slices.SortFunc(out, func(a, b VersionCount) int { return b.VersionCode - a.VersionCode })
	return out, ids
}
