package ingress

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// deviceJSON is a device row as the listing, the detail and the live feed's
// device.status events show it: one shape for the dashboard to parse.
type deviceJSON struct {
	ID           string       `json:"id"`
	Alias        string       `json:"alias"`
	Serial       string       `json:"serial"`
	Model        string       `json:"model"`
	Status       string       `json:"status"` // online, offline or never
	LastSeen     *time.Time   `json:"last_seen"`
	BatteryPct   *int16       `json:"battery_pct"`
	Charging     bool         `json:"charging"`
	AgentVersion string       `json:"agent_version"`
	EnrolledAt   time.Time    `json:"enrolled_at"`
	Service      *serviceJSON `json:"service"` // null when no package is monitored
}

type serviceJSON struct {
	Package        string     `json:"package"`
	DisplayName    string     `json:"display_name"`
	Enabled        bool       `json:"enabled"`
	ThresholdMin   int        `json:"threshold_min"`
	LastForeground *time.Time `json:"last_foreground"`
	Down           bool       `json:"down"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toDeviceJSON(r *actors.DeviceRow) deviceJSON {
	out := deviceJSON{
		ID: r.ID.String(), Alias: r.Alias, Serial: r.Serial, Model: r.Model, Status: r.Presence(),
		LastSeen: timeOrNil(r.LastSeen), Charging: r.Charging, AgentVersion: r.AgentVersion,
		EnrolledAt: r.EnrolledAt,
	}
	if r.BatteryPct >= 0 {
		b := r.BatteryPct
		out.BatteryPct = &b
	}
	if sv := r.Service; sv.Package != "" {
		out.Service = &serviceJSON{
			Package: sv.Package, DisplayName: sv.DisplayName, Enabled: sv.Enabled,
			ThresholdMin: sv.ThresholdMin, LastForeground: timeOrNil(sv.LastForeground), Down: sv.Down,
		}
	}
	return out
}

// appendDeviceJSON appends a row's JSON object.
func appendDeviceJSON(dst []byte, r *actors.DeviceRow) []byte {
	b, _ := json.Marshal(toDeviceJSON(r)) // plain structs: cannot fail
	return append(dst, b...)
}

// appendDevicePatch appends the part of a row's JSON object the live feed
// sends when a heartbeat moved it: id and last_seen, then only the listed
// fields, each with the value it has in the whole row.
func appendDevicePatch(dst []byte, r *actors.DeviceRow, fields actors.RowFields) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, r.ID.String()...)
	dst = append(dst, `","last_seen":`...)
	if r.LastSeen.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(r.LastSeen.UTC().AppendFormat(append(dst, '"'), time.RFC3339Nano), '"')
	}
	if fields&actors.RowStatus != 0 {
		dst = append(append(append(dst, `,"status":"`...), r.Presence()...), '"')
	}
	if fields&actors.RowBattery != 0 {
		dst = append(dst, `,"battery_pct":`...)
		if r.BatteryPct < 0 {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendInt(dst, int64(r.BatteryPct), 10)
		}
	}
	if fields&actors.RowCharging != 0 {
		dst = strconv.AppendBool(append(dst, `,"charging":`...), r.Charging)
	}
	if fields&(actors.RowAgentVersion|actors.RowService) != 0 {
		whole := toDeviceJSON(r)
		if fields&actors.RowAgentVersion != 0 {
			b, _ := json.Marshal(whole.AgentVersion)
			dst = append(append(dst, `,"agent_version":`...), b...)
		}
		if fields&actors.RowService != 0 {
			b, _ := json.Marshal(whole.Service)
			dst = append(append(dst, `,"service":`...), b...)
		}
	}
	return append(dst, '}')
}

type summaryJSON struct {
	At            time.Time       `json:"at"`
	Total         int             `json:"total"`
	Online        int             `json:"online"`
	Offline       int             `json:"offline"`
	Never         int             `json:"never"`
	Alerting      int             `json:"alerting"` // devices with an open alert
	Battery       batteryJSON     `json:"battery"`
	AgentVersions []versionCount  `json:"agent_versions"`
	Monitoring    monitoringCount `json:"monitoring"`
}

type batteryJSON struct {
	Bands    []bandCount `json:"bands"`
	Unknown  int         `json:"unknown"`
	Charging int         `json:"charging"`
	Low      int         `json:"low"` // online, below 15% and not charging
}

type bandCount struct {
	Band  string `json:"band"`
	Count int    `json:"count"`
}

type versionCount struct {
	Version string `json:"version"` // "" when the device reported none
	Count   int    `json:"count"`
}

type monitoringCount struct {
	Monitored    int `json:"monitored"`
	ServicesDown int `json:"services_down"`
}

func toSummaryJSON(s *actors.FleetSummary) summaryJSON {
	out := summaryJSON{
		At: s.At, Total: s.Total, Online: s.Online, Offline: s.Offline, Never: s.Never, Alerting: s.Alerting,
		Battery:    batteryJSON{Unknown: s.BatteryUnknown, Charging: s.Charging, Low: s.LowBattery},
		Monitoring: monitoringCount{Monitored: s.Monitored, ServicesDown: s.ServicesDown},
	}
	for i, b := range actors.BatteryBands {
		out.Battery.Bands = append(out.Battery.Bands, bandCount{Band: b.Name, Count: s.Battery[i]})
	}
	out.AgentVersions = make([]versionCount, 0, len(s.AgentVersions))
	for v, n := range s.AgentVersions {
		out.AgentVersions = append(out.AgentVersions, versionCount{Version: v, Count: n})
	}
	slices.SortFunc(out.AgentVersions, func(a, b versionCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Version, b.Version))
	})
	return out
}

type enrollmentJSON struct {
	Manufacturer     string    `json:"manufacturer"`
	AndroidVersion   string    `json:"android_version"`
	SDKInt           int32     `json:"sdk_int"`
	AgentVersion     string    `json:"agent_version"` // as enrolled
	AgentVersionCode int32     `json:"agent_version_code"`
	FCMRegistered    bool      `json:"fcm_registered"`
	HMACKeyID        string    `json:"hmac_key_id"`
	TokenRotatedAt   time.Time `json:"token_rotated_at"`
}

func toEnrollmentJSON(i *pgstore.DeviceInfo) enrollmentJSON {
	return enrollmentJSON{
		Manufacturer: i.Manufacturer, AndroidVersion: i.AndroidVersion, SDKInt: i.SDKInt,
		AgentVersion: i.AgentVersion, AgentVersionCode: i.AgentVersionCode,
		FCMRegistered: i.FCMRegistered, HMACKeyID: i.HMACKeyID, TokenRotatedAt: i.TokenRotatedAt,
	}
}

// liveJSON is the newest heartbeat with the fields the device sent, or nil.
func liveJSON(h *persistence.Heartbeat) map[string]any {
	if h.TS.IsZero() {
		return nil
	}
	m := map[string]any{"ts": h.TS, "received_at": h.ReceivedAt}
	for _, f := range []struct {
		has  persistence.Fields
		name string
		v    any
	}{
		{persistence.HasBattery, "battery_pct", h.BatteryPct},
		{persistence.HasCharging, "charging", h.Charging},
		{persistence.HasRAMUsed, "ram_used_mb", h.RAMUsedMB},
		{persistence.HasRAMTotal, "ram_total_mb", h.RAMTotalMB},
		{persistence.HasUptime, "uptime_s", h.UptimeS},
		{persistence.HasNetType, "net_type", h.NetType},
		{persistence.HasSSID, "ssid", h.SSID},
		{persistence.HasSignal, "signal_dbm", h.SignalDBm},
		{persistence.HasAgentVersion, "agent_version", h.AgentVersion},
		{persistence.HasAgentVersionCode, "agent_version_code", h.AgentVersionCode},
		{persistence.HasForegroundPkg, "foreground_pkg", h.ForegroundPkg},
		{persistence.HasPowerOK, "power_ok", h.PowerOK},
		{persistence.HasDozeWhitelisted, "doze_whitelisted", h.DozeWhitelisted},
		{persistence.HasNetValidated, "net_validated", h.NetValidated},
		{persistence.HasQueueDepth, "queue_depth", h.QueueDepth},
	} {
		if h.Has&f.has != 0 {
			m[f.name] = f.v
		}
	}
	return m
}

type monitoringJSON struct {
	DeviceID      string `json:"device_id"`
	Package       string `json:"monitored_package"`
	DisplayName   string `json:"display_name"`
	ThresholdMin  int32  `json:"threshold_min"`
	Enabled       bool   `json:"enabled"`
	AutoRemediate bool   `json:"auto_remediate"`
}

func toMonitoringJSON(id uuid.UUID, m persistence.Monitoring) monitoringJSON {
	return monitoringJSON{
		DeviceID: id.String(), Package: m.Package, DisplayName: m.DisplayName,
		ThresholdMin: m.ThresholdMin, Enabled: m.Enabled, AutoRemediate: m.AutoRemediate,
	}
}

type pointJSON struct {
	At         time.Time `json:"at"`
	Samples    int       `json:"samples"`
	BatteryAvg *float64  `json:"battery_avg"`
	BatteryMin *int16    `json:"battery_min"`
	BatteryMax *int16    `json:"battery_max"`
	Charging   *bool     `json:"charging"`
	RAMUsedAvg *float64  `json:"ram_used_avg_mb"`
	RAMTotal   *int32    `json:"ram_total_mb"`
	SignalAvg  *float64  `json:"signal_avg_dbm"`
}

func toPointsJSON(ps []pgstore.HistoryPoint) []pointJSON {
	out := make([]pointJSON, len(ps))
	for i, p := range ps {
		out[i] = pointJSON(p)
	}
	return out
}
