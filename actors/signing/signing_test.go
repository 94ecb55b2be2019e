package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), 32)))
}

func TestKeyringFirstKeyIsCurrentAndAllStayValid(t *testing.T) {
	k, err := ParseKeyring("k2:" + key('b') + ", k1:" + key('a'))
	require.NoError(t, err)
	assert.Equal(t, "k2", k.Current())
	dev := uuid.MustParse("6f1c6a8e-2b55-4c1e-9b53-1d2f3a4b5c6d")
	k1, err := k.DeviceKey("k1", dev)
	require.NoError(t, err)
	k2, err := k.DeviceKey("k2", dev)
	require.NoError(t, err)
	assert.NotEqual(t, k1, k2)
	again, _ := k.DeviceKey("k1", dev)
	assert.Equal(t, k1, again, "derivation is deterministic")
	_, err = k.DeviceKey("k3", dev)
	assert.ErrorIs(t, err, ErrUnknownKey)
}

// Derivation reuses keyed HMACs; every call must still be the formula's
// HMAC-SHA256(master, "nexmdm/device-hmac/v1:" + device id), one device
// after another and from many goroutines at once.
func TestDeviceKeysStayTheFormulasWhileTheirHMACsAreReused(t *testing.T) {
	k, err := ParseKeyring("k1:" + key('a'))
	require.NoError(t, err)
	want := func(dev uuid.UUID) []byte {
		m := hmac.New(sha256.New, []byte(strings.Repeat("a", 32)))
		m.Write([]byte("nexmdm/device-hmac/v1:" + dev.String()))
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				dev := uuid.New()
				got, err := k.DeviceKey("k1", dev)
				if !assert.NoError(t, err) || !assert.Equal(t, want(dev), got, "device %s", dev) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestParseKeyringRejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{"", "k1", ":" + key('a'), "k1:not-base64!", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "k1:" + key('a') + ",k1:" + key('b')} {
		_, err := ParseKeyring(spec)
		assert.Error(t, err, "ParseKeyring(%q)", spec)
	}
}

// The signature format is the contract with the agent (DESIGN.md). This
// vector was computed independently, with Python's hmac and hashlib, from
// the formula in DESIGN.md.
func TestSignatureVector(t *testing.T) {
	devKey := []byte(strings.Repeat("k", 32))
	got := Signature(devKey, "cmd-1", "6f1c6a8e-2b55-4c1e-9b53-1d2f3a4b5c6d", "launch_app", 1763888405, `{"package":"com.example.kiosk"}`)
	assert.Equal(t, "f23ed09dc848c174553907e0cfc34b15d53bc155fc3a7366992e5e402dbf3b92", got)
}
