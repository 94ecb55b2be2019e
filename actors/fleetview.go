package actors

import (
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// deviceView is what listings, the fleet summary and the live feed show of
// a device. The views of a shard sit side by side in one slice, so that a
// page out of 100,000 devices is one sequential scan of memory and never a
// database query. The device's actor rewrites its view under the shard lock
// when the device reports.
type deviceView struct {
	id              uuid.UUID
	names           string // alias + "\x00" + serial: one allocation, and one string to search
	model           string
	agentVersion    string
	monitoredPkg    string
	monitorName     string
	enrolledAt      int64 // unix ms
	lastSeen        int64 // unix ms of the newest heartbeat; 0 never
	monitoredLastFG int64 // unix ms the monitored package was last in the foreground
	fedSeen         int64 // lastSeen when the row last went to the live feed
	versionCode     int32 // agent_version_code of the newest heartbeat; 0 unknown
	aliasLen        uint16
	battery         int16 // -1 unknown
	thresholdMin    int16
	deleted         bool
	online          bool
	alerting        bool // an alert is open
	charging        bool
	monitorEnabled  bool
	fed             RowFields // what changed since the live feed last drained, and rowQueued
}

// RowFields names the parts of a device row that changed, so that the live
// feed can send only those: a heartbeat moves a few fields of a row that is
// mostly descriptive.
type RowFields uint8

// The parts of a row, as the live feed tells them apart.
const (
	RowStatus RowFields = 1 << iota
	RowBattery
	RowCharging
	RowAgentVersion
	RowService // the monitored service's last foreground time
	RowFacts   // a new device, or what enrolment or monitoring settings say: the whole row
	rowQueued  // the view is in its shard's changed list (not a field: never drained)
)

// RowChange is a device whose row changed, and which parts of it.
type RowChange struct {
	ID     uuid.UUID
	Fields RowFields // 0: only its times moved
}

// ServiceState is a device's monitored service as last reported.
type ServiceState struct {
	Package        string
	DisplayName    string
	Enabled        bool
	ThresholdMin   int
	LastForeground time.Time // zero: never seen in the foreground
	Down           bool      // enabled, the device is online, and the package was not in the foreground within the threshold
}

// DeviceRow is one device as listings and the live feed show it.
type DeviceRow struct {
	ID           uuid.UUID
	Alias        string
	Serial       string
	Model        string
	AgentVersion string
	// AgentVersionCode is from the newest heartbeat; 0 when it never said.
	AgentVersionCode int
	EnrolledAt       time.Time
	LastSeen         time.Time // zero: never reported
	Online           bool
	BatteryPct       int16 // -1: unknown
	Charging         bool
	Service          ServiceState
}

// Presence names a device's presence: online, offline or never (enrolled,
// no heartbeat yet).
func (r *DeviceRow) Presence() string {
	switch {
	case r.Online:
		return "online"
	case r.LastSeen.IsZero():
		return "never"
	}
	return "offline"
}

func (v *deviceView) alias() string  { return v.names[:v.aliasLen] }
func (v *deviceView) serial() string { return v.names[v.aliasLen+1:] }

// setFacts refreshes what enrollment reported, keeping live status.
func (v *deviceView) setFacts(f *persistence.DeviceFacts) {
	v.names = f.Alias + "\x00" + f.Serial
	v.aliasLen = uint16(len(f.Alias))
	v.model = persistence.Intern([]byte(f.Model))
	v.enrolledAt = f.EnrolledAt.UnixMilli()
	if v.agentVersion == "" {
		v.agentVersion = persistence.Intern([]byte(f.AgentVersion))
	}
}

// addLocked adds an entry with a fresh view; the shard's write lock is held.
func (s *shard) addLocked(id uuid.UUID, f *persistence.DeviceFacts) *entry {
	v := deviceView{id: id, battery: -1, thresholdMin: 10}
	v.setFacts(f)
	s.views = append(s.views, v)
	e := &entry{slot: int32(len(s.views) - 1)}
	s.m[id] = e
	return e
}

// setDeletedLocked marks an entry, and its view, deleted or back.
func (s *shard) setDeletedLocked(e *entry, deleted bool) {
	e.deleted = deleted
	if e.slot >= 0 {
		s.views[e.slot].deleted = deleted
	}
}

// feedEvery is how often a device's row goes to the live feed when only
// its times moved: a fleet heartbeating every few seconds would otherwise
// send every row to every dashboard every second.
const feedEvery = int64(time.Minute / time.Millisecond)

// setState copies an actor's visible state and reports whether the live
// feed should show the row again, and what of it changed: something on it
// changed, or its times moved by feedEvery since it was last shown.
func (v *deviceView) setState(st *deviceState) (RowFields, bool) {
	was := *v
	v.lastSeen = st.lastSeen / int64(time.Millisecond)
	v.online = st.online
	v.alerting = st.alerts.Open != 0
	h := &st.live
	if h.Has&persistence.HasBattery != 0 {
		v.battery = h.BatteryPct
	}
	if h.Has&persistence.HasCharging != 0 {
		v.charging = h.Charging
	}
	if h.Has&persistence.HasAgentVersion != 0 && h.AgentVersion != "" {
		v.agentVersion = h.AgentVersion
	}
	if h.Has&persistence.HasAgentVersionCode != 0 {
		v.versionCode = h.AgentVersionCode
	}
	v.setMonitoring(&st.monitoring)
	v.monitoredLastFG = st.monitoredLastFG
	var fields RowFields
	if v.online != was.online {
		fields |= RowStatus
	}
	if v.battery != was.battery {
		fields |= RowBattery
	}
	if v.charging != was.charging {
		fields |= RowCharging
	}
	if v.agentVersion != was.agentVersion {
		fields |= RowAgentVersion
	}
	if v.monitoredLastFG-was.monitoredLastFG >= feedEvery {
		fields |= RowService
	}
	if v.monitoredPkg != was.monitoredPkg || v.monitorName != was.monitorName ||
		v.monitorEnabled != was.monitorEnabled || v.thresholdMin != was.thresholdMin {
		fields |= RowFacts
	}
	return fields, fields != 0 || v.lastSeen-v.fedSeen >= feedEvery
}

func (v *deviceView) setMonitoring(m *persistence.Monitoring) {
	v.monitoredPkg, v.monitorName = m.Package, m.DisplayName
	v.thresholdMin, v.monitorEnabled = int16(m.ThresholdMin), m.Enabled
}

func (v *deviceView) serviceDown(nowMs int64) bool {
	return v.monitorEnabled && v.monitoredPkg != "" && v.online &&
		nowMs-v.monitoredLastFG > int64(v.thresholdMin)*int64(time.Minute/time.Millisecond)
}

func (v *deviceView) row(nowMs int64) DeviceRow {
	return DeviceRow{
		ID: v.id, Alias: v.alias(), Serial: v.serial(), Model: v.model, AgentVersion: v.agentVersion,
		AgentVersionCode: int(v.versionCode),
		EnrolledAt:       fromUnixMilli(v.enrolledAt), LastSeen: fromUnixMilli(v.lastSeen),
		Online: v.online, BatteryPct: v.battery, Charging: v.charging,
		Service: ServiceState{
			Package: v.monitoredPkg, DisplayName: v.monitorName, Enabled: v.monitorEnabled,
			ThresholdMin: int(v.thresholdMin), LastForeground: fromUnixMilli(v.monitoredLastFG),
			Down: v.serviceDown(nowMs),
		},
	}
}

// markChangedLocked queues the entry's view for the live feed with the
// fields that changed; the shard's write lock is held.
func (s *shard) markChangedLocked(e *entry, fields RowFields) {
	v := &s.views[e.slot]
	v.fedSeen = v.lastSeen
	if v.fed&rowQueued == 0 {
		s.changed = append(s.changed, e.slot)
	}
	v.fed |= fields | rowQueued
}

// publish copies an actor's state into its view.
func (s *shard) publish(e *entry, st *deviceState) {
	s.mu.Lock()
	if fields, show := s.views[e.slot].setState(st); show {
		s.markChangedLocked(e, fields)
	}
	s.mu.Unlock()
}

// Row returns a device's row, or false if it is unknown or deleted.
func (d *Directory) Row(id uuid.UUID, now time.Time) (DeviceRow, bool) {
	s := d.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.m[id]
	if e == nil || e.deleted {
		return DeviceRow{}, false
	}
	return s.views[e.slot].row(now.UnixMilli()), true
}

// DrainChanged appends the devices whose row changed since the last call,
// each once with what changed, and forgets them. The live feed calls it
// once a second.
func (d *Directory) DrainChanged(dst []RowChange) []RowChange {
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for _, slot := range s.changed {
			v := &s.views[slot]
			dst = append(dst, RowChange{ID: v.id, Fields: v.fed &^ rowQueued})
			v.fed = 0
		}
		s.changed = s.changed[:0]
		s.mu.Unlock()
	}
	return dst
}

// MonitoringChange is one device's new monitoring settings.
type MonitoringChange struct {
	ID         uuid.UUID
	Monitoring persistence.Monitoring
}

// SetMonitoring applies settings the store has already saved: live actors
// and rows change at once, and a hydration racing this reloads.
func (d *Directory) SetMonitoring(changes []MonitoringChange) {
	for _, c := range changes {
		s := d.shard(c.ID)
		s.mu.Lock()
		if e := s.m[c.ID]; e != nil && !e.deleted {
			v := &s.views[e.slot]
			if v.monitoredPkg != c.Monitoring.Package {
				v.monitoredLastFG = 0
			}
			v.setMonitoring(&c.Monitoring)
			e.gen++
			s.markChangedLocked(e, RowFacts)
			if e.actor.pid != nil {
				e.actor.send(&monitoringSet{m: c.Monitoring})
			}
		}
		s.mu.Unlock()
	}
}

func fromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
