// Package signing holds the HMAC master keys from which every device's
// command-signing key is derived, and signs commands in the format that
// DESIGN.md fixes as the contract with the agent.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// Keyring holds the master keys by id. The first is current: new devices get
// keys derived from it. The others stay valid, so that master keys rotate
// with two valid at once.
type Keyring struct {
	current string
	keys    map[string]*masterKey
}

// masterKey keeps HMACs keyed with the master key for reuse: a bulk command
// derives 10,000 device keys, and a fresh HMAC for each was a fifth of the
// request's 44 MB of garbage.
type masterKey struct{ macs sync.Pool }

func newMasterKey(key []byte) *masterKey {
	return &masterKey{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// ErrUnknownKey means no master key has that id.
var ErrUnknownKey = errors.New("unknown hmac key id")

// ParseKeyring reads "id:base64key[,id:base64key...]"; each key must be at
// least 32 bytes.
func ParseKeyring(spec string) (*Keyring, error) {
	k := &Keyring{keys: map[string]*masterKey{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, enc, ok := strings.Cut(part, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("hmac master key %q: want id:base64key", part)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("hmac master key %s: %w", id, err)
		}
		if len(key) < 32 {
			return nil, fmt.Errorf("hmac master key %s: %d bytes, want at least 32", id, len(key))
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("hmac master key %s: listed twice", id)
		}
		k.keys[id] = newMasterKey(key)
		if k.current == "" {
			k.current = id
		}
	}
	if k.current == "" {
		return nil, errors.New("no hmac master key")
	}
	return k, nil
}

// Current is the id of the key new devices get.
func (k *Keyring) Current() string { return k.current }

// DeviceKey derives a device's signing key from master key kid:
// HMAC-SHA256(master, "nexmdm/device-hmac/v1:" + device id).
func (k *Keyring) DeviceKey(kid string, device uuid.UUID) ([]byte, error) {
	master, ok := k.keys[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	m := master.macs.Get().(hash.Hash)
	defer master.macs.Put(m)
	m.Reset()
	m.Write([]byte("nexmdm/device-hmac/v1:"))
	m.Write([]byte(device.String()))
	return m.Sum(nil), nil
}

// Signature is hex(HMAC-SHA256(deviceKey, id + "\n" + deviceID + "\n" + type
// + "\n" + issuedAtUnix + "\n" + hex(SHA-256(paramsJSON)))), where
// paramsJSON is the exact string delivered to the device.
func Signature(deviceKey []byte, id, deviceID, typ string, issuedAtUnix int64, paramsJSON string) string {
	ph := sha256.Sum256([]byte(paramsJSON))
	m := hmac.New(sha256.New, deviceKey)
	m.Write([]byte(id + "\n" + deviceID + "\n" + typ + "\n" + strconv.FormatInt(issuedAtUnix, 10) + "\n" + hex.EncodeToString(ph[:])))
	return hex.EncodeToString(m.Sum(nil))
}
