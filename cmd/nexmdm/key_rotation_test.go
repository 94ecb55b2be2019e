package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
)

func masterKey(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), 32)))
}

// A rotated master key reaches devices in heartbeat answers; commands stay
// signed with the key a device has until it says it holds the new one.
func TestRotatedMasterKeyReachesDevicesInHeartbeatAnswers(t *testing.T) {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_HMAC_MASTER_KEYS"] = "k1:" + masterKey('a')
	first := startInProcess(t, e)
	c := api{t: t, base: e.url()}
	cl := newClient(e.url())
	reg := enrollFleet(t, cl, "rot", 1)[0]
	require.Equal(t, "k1", reg.HMACKeyID)
	require.NoError(t, first.shutdown(context.Background()))

	e["NEXMDM_HMAC_MASTER_KEYS"] = "k2:" + masterKey('b') + ",k1:" + masterKey('a')
	startInProcess(t, e)
	oldKey, err := base64.StdEncoding.DecodeString(reg.HMACKey)
	require.NoError(t, err)
	keys := command.Keys{"k1": oldKey}
	ts := time.Now().UTC()
	beat := func(kid string) *client.HeartbeatResponse {
		t.Helper()
		ts = ts.Add(10 * time.Second)
		hb := fullHeartbeat(ts, 60)
		hb.HMACKeyID = kid
		resp, err := cl.Heartbeat(context.Background(), reg.DeviceToken, hb)
		require.NoError(t, err)
		return resp
	}
	sendAndPull := func(kid string) command.Command {
		t.Helper()
		require.Equal(t, 201, c.do("POST", "/admin/devices/"+reg.DeviceID+"/commands", adminKeyHeader, map[string]any{"type": "ping"}).status)
		resp := beat(kid)
		require.NotEmpty(t, resp.Commands)
		var cmd command.Command
		require.NoError(t, json.Unmarshal(resp.Commands[len(resp.Commands)-1], &cmd))
		require.NoError(t, command.Verify(&cmd, reg.DeviceID, keys, time.Now()))
		return cmd
	}

	rot := beat("").HMACRotation
	require.NotNil(t, rot, "the device is handed the current key")
	assert.Equal(t, "k2", rot.HMACKeyID)
	newKey, err := base64.StdEncoding.DecodeString(rot.HMACKey)
	require.NoError(t, err)
	assert.Equal(t, "k1", sendAndPull("").HMACKeyID, "signed with the key the device has until it says otherwise")

	keys["k2"] = newKey
	assert.Nil(t, beat("k2").HMACRotation, "the device holds the current key")
	require.Eventually(t, func() bool {
		var kid string
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT hmac_key_id FROM devices WHERE id = $1`, reg.DeviceID).Scan(&kid))
		return kid == "k2"
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "k2", sendAndPull("k2").HMACKeyID, "new commands are signed with the new key")
}
