// Package persistence defines the records NexMDM stores and the small
// interfaces through which the actors store and load them. Its subpackages
// implement them: pgstore on PostgreSQL, snapstore on Redis.
package persistence

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// BucketWidth is the dedupe bucket: at most one stored heartbeat per device
// per bucket.
const BucketWidth = 10 * time.Second

// Bucket returns the dedupe bucket number of a device timestamp.
func Bucket(ts time.Time) int64 { return ts.Unix() / int64(BucketWidth/time.Second) }

// BucketStart returns the first instant of a bucket.
func BucketStart(bucket int64) time.Time {
	return time.Unix(bucket*int64(BucketWidth/time.Second), 0).UTC()
}

// Fields is a set of optional heartbeat fields, so that a field the device
// did not send is stored as NULL rather than as a zero.
type Fields uint32

// The optional heartbeat fields.
const (
	HasBattery Fields = 1 << iota
	HasCharging
	HasRAMUsed
	HasRAMTotal
	HasUptime
	HasNetType
	HasSSID
	HasSignal
	HasAgentVersion
	HasAgentVersionCode
	HasForegroundPkg
	HasAppLastForeground
	HasPowerOK
	HasDozeWhitelisted
	HasNetValidated
	HasQueueDepth
)

// Heartbeat is one validated device report.
type Heartbeat struct {
	DeviceID          uuid.UUID
	TS                time.Time // device clock
	ReceivedAt        time.Time // server clock
	Has               Fields
	BatteryPct        int16
	Charging          bool
	RAMUsedMB         int32
	RAMTotalMB        int32
	UptimeS           int64
	NetType           string
	SSID              string
	SignalDBm         int16
	AgentVersion      string
	AgentVersionCode  int32
	ForegroundPkg     string
	AppLastForeground string // JSON object: package -> unix ms, as sent
	PowerOK           bool
	DozeWhitelisted   bool
	NetValidated      bool
	QueueDepth        int32
}

// HeartbeatWrite asks the writer to store one heartbeat row. The writer fills
// in the outcome and hands the write back through Notify once the transaction
// that holds it has committed or failed.
type HeartbeatWrite struct {
	Heartbeat Heartbeat
	// IfAbsent is set when the caller cannot rule out that this device's
	// bucket is already stored; such rows are inserted with ON CONFLICT DO
	// NOTHING, and Duplicate reports a conflict.
	IfAbsent bool
	Notify   WriteNotifier

	Err       error // set by the writer: nil once committed
	Duplicate bool  // set by the writer: the bucket was already stored
}

// WriteNotifier receives finished writes. It must not block.
type WriteNotifier interface {
	HeartbeatWritten(w *HeartbeatWrite)
}

// HeartbeatSink is where device actors queue rows for the group-commit writer.
type HeartbeatSink interface {
	// Enqueue hands w to the writer without blocking. It reports false when
	// the pipeline is full; the caller then answers 503.
	Enqueue(w *HeartbeatWrite) bool
}

// Monitoring is a device's service-monitoring settings.
type Monitoring struct {
	Package       string // Android package whose foreground recency is watched
	DisplayName   string
	ThresholdMin  int32 // minutes without foreground before the service is down
	Enabled       bool
	AutoRemediate bool
}

// DeviceFacts are what a device reported about itself at enrollment.
type DeviceFacts struct {
	Alias        string
	Serial       string
	Model        string
	AgentVersion string // at enrollment; heartbeats report newer ones
	EnrolledAt   time.Time
	FCMToken     string // "" when the device has none, or FCM said it is dead
	HMACKeyID    string // the master key the device's command key derives from
}

// DeviceRecord is what the store knows of a device when its actor is
// hydrated: credentials, settings and, when any heartbeat was stored, the
// newest one.
type DeviceRecord struct {
	ID            uuid.UUID
	Facts         DeviceFacts
	TokenDigest   []byte // HMAC-SHA256(pepper, secret)
	PepperID      string // which pepper made TokenDigest
	TokenBcrypt   string // pepper-independent verifier, for a changed pepper
	RevokedDigest []byte // digest of the token the last re-enrollment replaced
	Monitoring    Monitoring
	Last          *Heartbeat // newest stored heartbeat, or nil
}

// ErrNotFound means no such record.
var ErrNotFound = errors.New("not found")

// Command statuses. A command is open until it is final.
const (
	CommandQueued    = "queued"
	CommandSent      = "sent"      // handed to FCM
	CommandDelivered = "delivered" // the device fetched it
	CommandSucceeded = "succeeded"
	CommandFailed    = "failed"
	CommandExpired   = "expired"
)

// CommandFinal reports whether a status ends a command's life.
func CommandFinal(status string) bool {
	return status == CommandSucceeded || status == CommandFailed || status == CommandExpired
}

// Command is a signed command as stored and delivered.
type Command struct {
	ID         uuid.UUID
	DeviceID   uuid.UUID
	Type       string
	ParamsJSON string // exactly what was signed
	IssuedAt   time.Time
	ExpiresAt  time.Time
	KeyID      string
	Sig        string
	Status     string
}

// CommandTransition is a status change of an open command.
type CommandTransition struct {
	ID       uuid.UUID
	DeviceID uuid.UUID
	Status   string
	At       time.Time
	Detail   string
}
