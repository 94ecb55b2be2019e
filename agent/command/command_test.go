package command

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

const device = "6f1c6a8e-2b55-4c1e-9b53-1d2f3a4b5c6d"

var key = []byte(strings.Repeat("k", 32))

// The vector the server's signing test also checks, computed independently
// from DESIGN.md's formula.
func signed() Command {
	return Command{
		ID: "cmd-1", DeviceID: device, Type: "launch_app", ParamsJSON: `{"package":"com.example.kiosk"}`,
		IssuedAtUnix: 1763888405, HMACKeyID: "dev1",
		Sig: "f23ed09dc848c174553907e0cfc34b15d53bc155fc3a7366992e5e402dbf3b92",
	}
}

var issued = time.Unix(1763888405, 0)

func TestAGenuineCommandVerifies(t *testing.T) {
	c := signed()
	assert.NoError(t, Verify(&c, device, Keys{"dev1": key}, issued.Add(time.Minute)))
	assert.Equal(t, c.Sig, hex.EncodeToString(Sign(key, c.ID, c.DeviceID, c.Type, c.IssuedAtUnix, c.ParamsJSON)))
}

func TestTamperedStaleOrForeignCommandsAreRefused(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Command)
		now  time.Time
		want error
	}{
		"params changed":       {func(c *Command) { c.ParamsJSON = `{"package":"com.evil"}` }, issued, ErrBadSignature},
		"type changed":         {func(c *Command) { c.Type = "shell" }, issued, ErrBadSignature},
		"id changed (replay)":  {func(c *Command) { c.ID = "cmd-2" }, issued, ErrBadSignature},
		"issued_at moved":      {func(c *Command) { c.IssuedAtUnix++ }, issued, ErrBadSignature},
		"signature not hex":    {func(c *Command) { c.Sig = "zz" }, issued, ErrBadSignature},
		"signature truncated":  {func(c *Command) { c.Sig = c.Sig[:62] }, issued, ErrBadSignature},
		"unknown key id":       {func(c *Command) { c.HMACKeyID = "dev9" }, issued, ErrUnknownKey},
		"another device":       {func(c *Command) { c.DeviceID = "7f1c6a8e-2b55-4c1e-9b53-1d2f3a4b5c6d" }, issued, ErrWrongDevice},
		"issued 6 minutes ago": {func(*Command) {}, issued.Add(6 * time.Minute), ErrStale},
		"issued in the future": {func(*Command) {}, issued.Add(-6 * time.Minute), ErrStale},
	} {
		cmd := signed()
		c.edit(&cmd)
		assert.ErrorIs(t, Verify(&cmd, device, Keys{"dev1": key}, c.now), c.want, name)
	}
}
