// Package command is the agent's side of signed commands: the form in which
// they are delivered (in a heartbeat response or an FCM data message), and
// the check that the server sent them to this device, recently, with a key
// the device holds. The agent and the server's tests both use Verify; the
// signature format is DESIGN.md's, the contract with the server.
package command

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Command is a command as delivered.
type Command struct {
	ID           string `json:"id"`
	DeviceID     string `json:"device_id"`
	Type         string `json:"type"`
	ParamsJSON   string `json:"params_json"` // exactly the signed string
	IssuedAtUnix int64  `json:"issued_at_unix"`
	HMACKeyID    string `json:"hmac_key_id"`
	Sig          string `json:"sig"` // hex
}

// MaxSkew is how far issued_at may be from the device's clock.
const MaxSkew = 5 * time.Minute

// Why a command is refused.
var (
	ErrWrongDevice  = errors.New("command is for another device")
	ErrUnknownKey   = errors.New("command is signed with a key id this device does not hold")
	ErrBadSignature = errors.New("command signature does not match")
	ErrStale        = errors.New("command issued_at is more than 5 minutes from the device clock")
)

// Keys are the signing keys a device holds, by key id: the one from its
// registration, and the current one when the server announces a rotation.
type Keys map[string][]byte

// Verify checks that c is for deviceID, was signed with one of keys, and
// was issued within MaxSkew of now. The comparison is constant-time.
func Verify(c *Command, deviceID string, keys Keys, now time.Time) error {
	if c.DeviceID != deviceID {
		return ErrWrongDevice
	}
	key, ok := keys[c.HMACKeyID]
	if !ok {
		return ErrUnknownKey
	}
	want := Sign(key, c.ID, c.DeviceID, c.Type, c.IssuedAtUnix, c.ParamsJSON)
	got, err := hex.DecodeString(c.Sig)
	if err != nil || !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(c.IssuedAtUnix, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	return nil
}

// Sign computes HMAC-SHA256(key, id + "\n" + deviceID + "\n" + type + "\n" +
// issuedAtUnix + "\n" + hex(SHA-256(paramsJSON))).
func Sign(key []byte, id, deviceID, typ string, issuedAtUnix int64, paramsJSON string) []byte {
	ph := sha256.Sum256([]byte(paramsJSON))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "\n" + deviceID + "\n" + typ + "\n" + strconv.FormatInt(issuedAtUnix, 10) + "\n" + hex.EncodeToString(ph[:])))
	return m.Sum(nil)
}
