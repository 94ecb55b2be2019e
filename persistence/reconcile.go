package persistence

import (
	"time"

	"github.com/google/uuid"
)

// StoredLast is what Postgres holds of a device's newest heartbeat, which
// reconciliation compares with the device's actor and snapshot.
type StoredLast struct {
	DeviceID     uuid.UUID
	StatusTS     time.Time // device_last_status.ts; zero when the device has no row
	NewestBucket int64     // newest bucket in heartbeats; 0 when none is stored
}

// StatusBucket is the bucket of the device_last_status row, or 0 without one.
func (s StoredLast) StatusBucket() int64 {
	if s.StatusTS.IsZero() {
		return 0
	}
	return Bucket(s.StatusTS)
}
