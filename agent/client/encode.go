package client

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the heartbeat's JSON encoding to dst. It encodes the
// same document as encoding/json, with no reflection and no allocation, so
// that a simulated fleet spends its CPU on load rather than on encoding.
func (h *Heartbeat) AppendJSON(dst []byte) []byte {
	b := append(dst, `{"ts":"`...)
	b = h.TS.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendInt(b, "battery_pct", h.BatteryPct)
	b = appendBool(b, "charging", h.Charging)
	b = appendInt(b, "ram_used_mb", h.RAMUsedMB)
	b = appendInt(b, "ram_total_mb", h.RAMTotalMB)
	if h.UptimeS != nil {
		b = append(b, `,"uptime_s":`...)
		b = strconv.AppendInt(b, *h.UptimeS, 10)
	}
	b = appendString(b, "net_type", h.NetType)
	b = appendString(b, "ssid", h.SSID)
	b = appendInt(b, "signal_dbm", h.SignalDBm)
	b = appendString(b, "agent_version", h.AgentVersion)
	b = appendInt(b, "agent_version_code", h.AgentVersionCode)
	b = appendString(b, "foreground_pkg", h.ForegroundPkg)
	if len(h.AppLastForeground) > 0 {
		b = append(b, `,"app_last_foreground":{`...)
		var keys [16]string
		pkgs := keys[:0]
		for k := range h.AppLastForeground {
			pkgs = append(pkgs, k)
		}
		slices.Sort(pkgs)
		for i, k := range pkgs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, h.AppLastForeground[k], 10)
		}
		b = append(b, '}')
	}
	b = appendBool(b, "power_ok", h.PowerOK)
	b = appendBool(b, "doze_whitelisted", h.DozeWhitelisted)
	b = appendBool(b, "net_validated", h.NetValidated)
	b = appendInt(b, "queue_depth", h.QueueDepth)
	b = appendString(b, "hmac_key_id", h.HMACKeyID)
	return append(b, '}')
}

func appendInt(b []byte, name string, v *int) []byte {
	if v == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, int64(*v), 10)
}

func appendBool(b []byte, name string, v *bool) []byte {
	if v == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, *v)
}

func appendString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendQuoted(b, v)
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
