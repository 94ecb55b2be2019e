// Package rollout holds the OTA releases devices are offered, in memory,
// and decides each device's offer: DESIGN.md's cohort formula, the
// device's current version, and the release's state. The update check
// reads it with no database query.
package rollout

import (
	"crypto/sha256"
	"encoding/binary"
	"sync/atomic"

	"github.com/google/uuid"
)

// InCohort is DESIGN.md's formula: a device is in a release's rollout when
// uint64(first 8 bytes of SHA-256(release_id + ":" + device_id)) % 100 <
// percent. Deterministic and stateless, and raising the percent only adds
// devices.
func InCohort(release, device uuid.UUID, percent int) bool {
	return Slot(release, device) < uint64(percent)
}

// Slot is the device's place, 0-99, in the release's rollout order.
func Slot(release, device uuid.UUID) uint64 {
	h := sha256.Sum256([]byte(release.String() + ":" + device.String()))
	return binary.BigEndian.Uint64(h[:8]) % 100
}

// Release is what an offer needs of a channel's current release.
type Release struct {
	ID             uuid.UUID
	Channel        string
	Active         bool // false: paused, offered to no one
	Percent        int
	AllowDowngrade bool // a rollback may take devices back a version
	BuildID        uuid.UUID
	Package        string
	VersionCode    int
	VersionName    string
	SHA256         string
	Signer         string
	Size           int64
	WifiOnly       bool
	MinBatteryPct  int
	NotInCall      bool
}

// Offer is what GET /v1/agent/update answers.
type Offer struct {
	ReleaseID         uuid.UUID `json:"release_id"`
	Package           string    `json:"package"`
	VersionCode       int       `json:"version_code"`
	VersionName       string    `json:"version_name"`
	URL               string    `json:"url"`
	SHA256            string    `json:"sha256"`
	SignerFingerprint string    `json:"signer_fingerprint"`
	Size              int64     `json:"size"`
	WifiOnly          bool      `json:"wifi_only"`
	MinBatteryPct     int       `json:"min_battery_pct"`
	NotInCall         bool      `json:"not_in_call"`
}

// Book is the current release of each channel. Admin changes replace it
// whole; update checks read it without a lock.
type Book struct {
	current atomic.Pointer[map[string]Release]
}

// Set replaces the current releases.
func (b *Book) Set(releases []Release) {
	m := make(map[string]Release, len(releases))
	for _, r := range releases {
		m[r.Channel] = r
	}
	b.current.Store(&m)
}

// Current is a channel's current release.
func (b *Book) Current(channel string) (Release, bool) {
	m := b.current.Load()
	if m == nil {
		return Release{}, false
	}
	r, ok := (*m)[channel]
	return r, ok
}

// Offer decides what a device on channel, running versionCode (0:
// unknown), is offered: nothing unless the release is active, the device
// is in its cohort, and the release is newer (or, for a rollback that
// allows it, different).
func (b *Book) Offer(channel string, device uuid.UUID, versionCode int) (Offer, bool) {
	r, ok := b.Current(channel)
	if !ok || !r.Active || !InCohort(r.ID, device, r.Percent) {
		return Offer{}, false
	}
	switch {
	case versionCode == r.VersionCode:
		return Offer{}, false
	case versionCode > r.VersionCode && !r.AllowDowngrade:
		return Offer{}, false
	}
	return Offer{
		ReleaseID: r.ID, Package: r.Package, VersionCode: r.VersionCode, VersionName: r.VersionName,
		URL: "/v1/agent/download/" + r.BuildID.String(), SHA256: r.SHA256, SignerFingerprint: r.Signer,
		Size: r.Size, WifiOnly: r.WifiOnly, MinBatteryPct: r.MinBatteryPct, NotInCall: r.NotInCall,
	}, true
}
