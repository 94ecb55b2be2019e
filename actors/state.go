package actors

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/valyala/fastjson"

	"github.com/nexmdm/nexmdm/persistence"
)

// deviceState is everything a device actor knows. The snapshot codec below
// writes the parts that are not in Postgres' devices row to Redis.
type deviceState struct {
	creds credentials // from Postgres only; never snapshotted

	lastSeen int64                 // unix ns, server time, of the newest heartbeat; 0 never
	live     persistence.Heartbeat // newest heartbeat by device time (AppLastForeground not kept)
	dedupe   dedupe                //

	monitoring      persistence.Monitoring
	monitoredLastFG int64 // unix ms the monitored package was last in the foreground; 0 unknown
	alerts          AlertState

	commands []persistence.Command // open commands, oldest first; from Postgres, never snapshotted
	fcmToken string                // where commands are pushed; "" when there is none
	keyID    string                // master key of the device's command key, as the store has it

	tokensAt int64   // unix ns tokens was last refilled; 0 never
	tokens   float32 // rate limiter bucket
	online   bool
}

// seenAt is lastSeen as a time; zero when the device never reported.
func (st *deviceState) seenAt() time.Time { return fromUnixNano(st.lastSeen) }

// credentials verify a device token without a database read.
type credentials struct {
	digest     [32]byte // HMAC-SHA256(pepper, secret)
	pepperID   string   // pepper that made digest
	bcrypt     string   // kept only while digest was made with another pepper
	revoked    [32]byte // digest of the token the last re-enrollment replaced
	hasRevoked bool
}

// match reports whether a presented digest is the current token.
func (c *credentials) match(d *[32]byte) bool {
	return subtle.ConstantTimeCompare(c.digest[:], d[:]) == 1
}

// isRevoked reports whether a presented digest is the replaced token.
func (c *credentials) isRevoked(d *[32]byte) bool {
	return c.hasRevoked && subtle.ConstantTimeCompare(c.revoked[:], d[:]) == 1
}

// Rule is an alert rule whose state device actors keep.
type Rule uint8

// The alert rules.
const (
	RuleOffline Rule = iota
	RuleLowBattery
	RuleServiceDown
	numRules
)

// AlertState is a device's open alerts; the alerts feature evaluates it.
type AlertState struct {
	Open      uint8           // bit r set: rule r is firing
	OpenedAt  [numRules]int64 // unix s the rule last fired
	LastFired [numRules]int64 // unix s of the last notification, for cooldown
}

// dedupe remembers which 10 s buckets of a device are stored: the newest
// one, and a bitmap of the 64 below it. known counts how many of those bits
// are certain; after hydrating from Postgres alone only last is.
type dedupe struct {
	last   int64  // newest stored bucket; 0 when nothing is stored
	recent uint64 // bit i: bucket last-1-i is stored
	known  uint8  // bits of recent that are certain, from bit 0
}

type verdict uint8

const (
	bucketNew     verdict = iota // certainly not stored
	bucketStored                 // certainly stored
	bucketUnknown                // may be stored: insert if absent
)

func (d *dedupe) check(b int64) verdict {
	switch {
	case d.last == 0 || b > d.last:
		return bucketNew
	case b == d.last:
		return bucketStored
	}
	off := d.last - 1 - b
	if off >= int64(d.known) {
		return bucketUnknown
	}
	if d.recent&(1<<off) != 0 {
		return bucketStored
	}
	return bucketNew
}

func (d *dedupe) mark(b int64) {
	switch {
	case d.last == 0:
		d.last, d.recent, d.known = b, 0, 64
	case b > d.last:
		shift := b - d.last
		if shift > 64 {
			d.recent = 0
		} else {
			d.recent = d.recent<<shift | 1<<(shift-1)
		}
		d.known = uint8(min(64, int64(d.known)+shift))
		d.last = b
	case b < d.last:
		if off := d.last - 1 - b; off < 64 {
			d.recent |= 1 << off
		}
	}
}

// hydrate builds the state from the Postgres record and, when present, the
// Redis snapshot. Postgres is the authority for credentials and settings; the
// snapshot for live status and dedupe, unless Postgres holds a newer stored
// bucket (a crash lost the last snapshot flush).
func hydrate(rec *persistence.DeviceRecord, snapshot []byte, pepperID string) (deviceState, error) {
	var st deviceState
	if len(snapshot) > 0 {
		if err := decodeSnapshot(snapshot, &st); err != nil {
			return deviceState{}, err
		}
	}
	copy(st.creds.digest[:], rec.TokenDigest)
	st.creds.pepperID = rec.PepperID
	if rec.PepperID != pepperID {
		st.creds.bcrypt = rec.TokenBcrypt
	}
	if len(rec.RevokedDigest) == 32 {
		copy(st.creds.revoked[:], rec.RevokedDigest)
		st.creds.hasRevoked = true
	}
	st.monitoring = rec.Monitoring
	st.fcmToken = rec.Facts.FCMToken
	st.keyID = persistence.InternString(rec.Facts.HMACKeyID)
	if rec.Last != nil {
		pgLast := persistence.Bucket(rec.Last.TS)
		if pgLast > st.dedupe.last {
			st.dedupe = dedupe{last: pgLast}
		}
		st.monitoredLastFG = max(st.monitoredLastFG, lastForeground(rec.Last, rec.Monitoring.Package))
		if rec.Last.TS.After(st.live.TS) {
			st.live = *rec.Last
			st.live.AppLastForeground = ""
		}
		if n := unixNano(rec.Last.ReceivedAt); n > st.lastSeen {
			st.lastSeen = n
		}
	}
	return st, nil
}

// snapshotVersion is bumped when the layout changes; an unknown version is
// ignored and the device hydrates from Postgres.
const snapshotVersion = 1

var errBadSnapshot = errors.New("malformed device snapshot")

func encodeSnapshot(dst []byte, st *deviceState) []byte {
	b := append(dst, snapshotVersion)
	b = binary.AppendVarint(b, st.lastSeen)
	b = appendBool(b, st.online)
	b = binary.AppendVarint(b, st.dedupe.last)
	b = binary.LittleEndian.AppendUint64(b, st.dedupe.recent)
	b = append(b, st.dedupe.known)

	h := &st.live
	b = binary.AppendUvarint(b, uint64(h.Has))
	b = binary.AppendVarint(b, unixNano(h.TS))
	b = binary.AppendVarint(b, unixNano(h.ReceivedAt))
	b = binary.AppendVarint(b, int64(h.BatteryPct))
	b = appendBool(b, h.Charging)
	b = binary.AppendVarint(b, int64(h.RAMUsedMB))
	b = binary.AppendVarint(b, int64(h.RAMTotalMB))
	b = binary.AppendVarint(b, h.UptimeS)
	b = appendString(b, h.NetType)
	b = appendString(b, h.SSID)
	b = binary.AppendVarint(b, int64(h.SignalDBm))
	b = appendString(b, h.AgentVersion)
	b = binary.AppendVarint(b, int64(h.AgentVersionCode))
	b = appendString(b, h.ForegroundPkg)
	b = appendBool(b, h.PowerOK)
	b = appendBool(b, h.DozeWhitelisted)
	b = appendBool(b, h.NetValidated)
	b = binary.AppendVarint(b, int64(h.QueueDepth))

	b = binary.AppendVarint(b, st.monitoredLastFG)
	b = append(b, st.alerts.Open)
	for r := range numRules {
		b = binary.AppendVarint(b, st.alerts.OpenedAt[r])
		b = binary.AppendVarint(b, st.alerts.LastFired[r])
	}
	return b
}

func decodeSnapshot(b []byte, st *deviceState) error {
	r := reader{b: b}
	if r.byte() != snapshotVersion {
		return errBadSnapshot
	}
	st.lastSeen = r.varint()
	st.online = r.bool()
	st.dedupe.last = r.varint()
	st.dedupe.recent = r.uint64()
	st.dedupe.known = r.byte()

	h := &st.live
	h.Has = persistence.Fields(r.uvarint())
	h.TS = fromUnixNano(r.varint())
	h.ReceivedAt = fromUnixNano(r.varint())
	h.BatteryPct = int16(r.varint())
	h.Charging = r.bool()
	h.RAMUsedMB = int32(r.varint())
	h.RAMTotalMB = int32(r.varint())
	h.UptimeS = r.varint()
	h.NetType = r.string()
	h.SSID = r.string()
	h.SignalDBm = int16(r.varint())
	h.AgentVersion = r.string()
	h.AgentVersionCode = int32(r.varint())
	h.ForegroundPkg = r.string()
	h.PowerOK = r.bool()
	h.DozeWhitelisted = r.bool()
	h.NetValidated = r.bool()
	h.QueueDepth = int32(r.varint())

	st.monitoredLastFG = r.varint()
	st.alerts.Open = r.byte()
	for i := range numRules {
		st.alerts.OpenedAt[i] = r.varint()
		st.alerts.LastFired[i] = r.varint()
	}
	if r.bad || st.dedupe.known > 64 {
		return errBadSnapshot
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes a snapshot; any overrun sets bad instead of panicking.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bool() bool { return r.byte() == 1 }

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > math.MaxInt32 || uint64(len(r.b)) < n {
		r.bad = true
		return ""
	}
	s := persistence.Intern(r.b[:n])
	r.b = r.b[n:]
	return s
}

var foregroundParsers fastjson.ParserPool

// lastForeground returns when pkg was last in the foreground according to a
// heartbeat, in unix ms, or 0 if it does not say.
func lastForeground(h *persistence.Heartbeat, pkg string) int64 {
	if pkg == "" {
		return 0
	}
	var at int64
	if h.Has&persistence.HasForegroundPkg != 0 && h.ForegroundPkg == pkg {
		at = h.TS.UnixMilli()
	}
	if h.Has&persistence.HasAppLastForeground != 0 && len(h.AppLastForeground) > 0 {
		p := foregroundParsers.Get()
		if v, err := p.Parse(h.AppLastForeground); err == nil {
			at = max(at, v.GetInt64(pkg))
		}
		foregroundParsers.Put(p)
	}
	return at
}
