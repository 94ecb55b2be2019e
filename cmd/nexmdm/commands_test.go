package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
)

// commandDevice is an enrolled device that receives commands by pulling
// them with its heartbeats, as a device without FCM does.
type commandDevice struct {
	fleetAPI
	reg *client.Registration
}

func newCommandDevice(t *testing.T) commandDevice {
	f := newFleetAPI(t, 2)
	return commandDevice{fleetAPI: f, reg: f.regs[0]}
}

func (d commandDevice) send(headers map[string]string, body map[string]any) answer {
	d.t.Helper()
	return d.do("POST", "/admin/devices/"+d.reg.DeviceID+"/commands", headers, body)
}

// pull sends a heartbeat and verifies every delivered command the way the
// agent does.
func (d commandDevice) pull() []command.Command {
	d.t.Helper()
	resp, err := d.client.Heartbeat(context.Background(), d.reg.DeviceToken, fullHeartbeat(time.Now().UTC(), 70))
	require.NoError(d.t, err)
	key, err := base64.StdEncoding.DecodeString(d.reg.HMACKey)
	require.NoError(d.t, err)
	var out []command.Command
	for _, raw := range resp.Commands {
		var c command.Command
		require.NoError(d.t, json.Unmarshal(raw, &c))
		require.NoError(d.t, command.Verify(&c, d.reg.DeviceID, command.Keys{d.reg.HMACKeyID: key}, time.Now()))
		out = append(out, c)
	}
	return out
}

// result posts an action result with a device token.
func (d commandDevice) result(token, commandID, status string) (int, string) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]any{"command_id": commandID, "status": status, "message": "done", "output": "pong"})
	code, errCode, _ := rawPost(d.t, d.base+"/v1/action-result", map[string]string{"Authorization": "Bearer " + token}, string(body))
	return code, errCode
}

func (d commandDevice) awaitStatus(id, status string) map[string]any {
	d.t.Helper()
	var got map[string]any
	require.Eventually(d.t, func() bool {
		got = d.get("/admin/commands/" + id).body
		return got["status"] == status
	}, 20*time.Second, 50*time.Millisecond, "command %s never became %s", id, status)
	return got
}

func TestCommandIsSignedPulledWithAHeartbeatAndFinishedOnce(t *testing.T) {
	d := newCommandDevice(t)
	r := d.send(adminKeyHeader, map[string]any{"type": "launch_app", "params": map[string]any{"package": "com.example.kiosk"}})
	require.Equal(t, 201, r.status, "%v", r.body)
	assert.Equal(t, "queued", r.body["status"])
	id := r.body["id"].(string)

	cmds := d.pull()
	require.Len(t, cmds, 1)
	assert.Equal(t, id, cmds[0].ID)
	assert.Equal(t, `{"package":"com.example.kiosk"}`, cmds[0].ParamsJSON)
	d.awaitStatus(id, "delivered")

	other := d.regs[1]
	code, errCode := d.result(other.DeviceToken, id, "succeeded")
	assert.Equal(t, http.StatusNotFound, code, "another device's command is not this device's to finish")
	assert.Equal(t, "unknown_command", errCode)

	code, _ = d.result(d.reg.DeviceToken, id, "succeeded")
	assert.Equal(t, http.StatusOK, code)
	code, errCode = d.result(d.reg.DeviceToken, id, "failed")
	assert.Equal(t, http.StatusConflict, code, "a replayed result")
	assert.Equal(t, "command_final", errCode)
	code, _ = d.result(d.reg.DeviceToken, "00000000-0000-4000-8000-000000000000", "succeeded")
	assert.Equal(t, http.StatusNotFound, code)

	got := d.awaitStatus(id, "succeeded")
	assert.Equal(t, "pong", got["result"].(map[string]any)["output"])
	var statuses []string
	for _, e := range got["events"].([]any) {
		statuses = append(statuses, e.(map[string]any)["status"].(string))
	}
	assert.Equal(t, []string{"queued", "delivered", "succeeded"}, statuses)
	assert.Empty(t, d.pull(), "a finished command is not delivered again")

	list := d.get("/admin/commands?device_id=" + d.reg.DeviceID).body["commands"].([]any)
	require.Len(t, list, 1)
	audit := d.get("/admin/audit?target=" + id).body["entries"].([]any)
	assert.GreaterOrEqual(t, len(audit), 3, "creation and every transition are audited")
}

func TestUnansweredCommandExpires(t *testing.T) {
	d := newCommandDevice(t)
	r := d.send(adminKeyHeader, map[string]any{"type": "ping", "ttl_s": 5})
	require.Equal(t, 201, r.status, "%v", r.body)
	d.awaitStatus(r.body["id"].(string), "expired")
	assert.Empty(t, d.pull())
}

func TestBadCommandsAreRefusedWithTheFieldAtFault(t *testing.T) {
	d := newCommandDevice(t)
	for name, c := range map[string]struct {
		body        map[string]any
		status      int
		code, field string
	}{
		"unknown type":          {map[string]any{"type": "format_disk"}, 400, "invalid_field", "type"},
		"missing type":          {map[string]any{}, 400, "missing_field", "type"},
		"missing package":       {map[string]any{"type": "launch_app"}, 400, "missing_field", "params.package"},
		"bad package":           {map[string]any{"type": "stop_app", "params": map[string]any{"package": "a; reboot"}}, 400, "invalid_field", "params.package"},
		"unknown parameter":     {map[string]any{"type": "reboot", "params": map[string]any{"force": true}}, 400, "invalid_field", "params.force"},
		"interval out of range": {map[string]any{"type": "set_config", "params": map[string]any{"heartbeat_interval_s": 5}}, 400, "invalid_field", "params.heartbeat_interval_s"},
		"build id not a uuid":   {map[string]any{"type": "install_apk", "params": map[string]any{"build_id": "latest"}}, 400, "invalid_field", "params.build_id"},
		"ttl too long":          {map[string]any{"type": "ping", "ttl_s": 999999}, 400, "invalid_field", "ttl_s"},
		"shell while disabled":  {map[string]any{"type": "shell", "params": map[string]any{"cmd": "id"}}, 403, "shell_disabled", ""},
	} {
		r := d.send(adminKeyHeader, c.body)
		assert.Equal(t, c.status, r.status, name)
		assert.Equal(t, c.code, r.code, name)
		if c.field != "" {
			assert.Equal(t, c.field, r.body["field"], name)
		}
	}
	assert.Empty(t, d.get("/admin/commands").body["commands"], "nothing was queued")

	access, _ := d.login("look", d.addUser("look", "viewer"))
	assert.Equal(t, 403, d.send(bearer(access), map[string]any{"type": "ping"}).status, "a viewer may not send commands")

	_, err := d.client.Heartbeat(context.Background(), d.reg.DeviceToken, fullHeartbeat(time.Now().UTC(), 50))
	require.NoError(t, err)
	require.Equal(t, 200, d.do("DELETE", "/admin/devices/"+d.reg.DeviceID, adminKeyHeader, nil).status)
	r := d.send(adminKeyHeader, map[string]any{"type": "ping"})
	assert.Equal(t, 404, r.status, "a command to a deleted device")
}

func TestShellNeedsTheSwitchAndTheAdminRoleAndIsAuditedInFull(t *testing.T) {
	e, _, _ := newTestEnv(t)
	e["NEXMDM_ALLOW_SHELL"] = "1"
	startInProcess(t, e)
	c := api{t: t, base: e.url()}
	cl := newClient(e.url())
	reg := enrollFleet(t, cl, "sh", 1)[0]
	path := "/admin/devices/" + reg.DeviceID + "/commands"
	body := map[string]any{"type": "shell", "params": map[string]any{"cmd": "pm list packages | grep kiosk"}}

	op, _ := c.login("oper", c.addUser("oper", "operator"))
	assert.Equal(t, 403, c.do("POST", path, bearer(op), body).status, "operators may not run shell")
	r := c.do("POST", path, adminKeyHeader, body)
	require.Equal(t, 201, r.status, "%v", r.body)
	entries := c.do("GET", "/admin/audit?action=command.create&target="+r.body["id"].(string), adminKeyHeader, nil).body["entries"].([]any)
	require.Len(t, entries, 1)
	raw, _ := json.Marshal(entries[0])
	assert.True(t, bytes.Contains(raw, []byte("pm list packages | grep kiosk")), "the full command line is audited: %s", raw)
}

func TestBulkCommandSignsOneCommandPerDevice(t *testing.T) {
	d := newCommandDevice(t)
	r := d.do("POST", "/admin/commands/bulk", adminKeyHeader, map[string]any{
		"filter": map[string]any{"q": "shop"}, "type": "set_config", "params": map[string]any{"heartbeat_interval_s": 60},
	})
	require.Equal(t, 201, r.status, "%v", r.body)
	assert.EqualValues(t, 2, r.body["queued"])

	for _, reg := range d.regs {
		dev := commandDevice{fleetAPI: d.fleetAPI, reg: reg}
		cmds := dev.pull() // verified with this device's own key
		require.Len(t, cmds, 1)
		assert.Equal(t, `{"heartbeat_interval_s":60}`, cmds[0].ParamsJSON)
	}

	r = d.do("POST", "/admin/commands/bulk", adminKeyHeader, map[string]any{
		"device_ids": []string{d.regs[1].DeviceID}, "type": "ping",
	})
	require.Equal(t, 201, r.status, "%v", r.body)
	assert.EqualValues(t, 1, r.body["queued"])

	for name, body := range map[string]map[string]any{
		"invalid_targets": {"type": "ping"},
		"invalid_field":   {"device_ids": []string{d.regs[0].DeviceID}, "type": "explode"},
	} {
		assert.Equal(t, name, d.do("POST", "/admin/commands/bulk", adminKeyHeader, body).code)
	}
	audit := d.get("/admin/audit?action=command.bulk_create").body["entries"].([]any)
	assert.Len(t, audit, 4, "every bulk request is audited, refused ones too")
}

// A selection is a snapshot: devices enrolled after it are not in it, and a
// bulk command by it reaches exactly the devices it holds.
func TestBulkCommandBySelectionReachesTheSnapshot(t *testing.T) {
	d := newCommandDevice(t)
	sel := d.do("POST", "/admin/devices/selection", adminKeyHeader, map[string]any{"filter": map[string]any{"q": "shop"}})
	require.Equal(t, 201, sel.status, "%v", sel.body)
	assert.EqualValues(t, 2, sel.body["count"])
	enrollFleet(t, d.client, "shop-late", 1) // matches the filter, but after the snapshot

	r := d.do("POST", "/admin/commands/bulk", adminKeyHeader, map[string]any{"selection_id": sel.body["selection_id"], "type": "lock"})
	require.Equal(t, 201, r.status, "%v", r.body)
	assert.EqualValues(t, 2, r.body["queued"])

	r = d.do("POST", "/admin/commands/bulk", adminKeyHeader, map[string]any{"selection_id": "00000000-0000-4000-8000-000000000000", "type": "lock"})
	assert.Equal(t, 404, r.status)
	assert.Equal(t, "selection_not_found", r.code)
	r = d.do("POST", "/admin/devices/selection", adminKeyHeader, map[string]any{"device_ids": []string{d.regs[0].DeviceID}, "filter": map[string]any{}})
	assert.Equal(t, "invalid_targets", r.code)
}

// A result PostgreSQL could not store (text with a NUL byte) is refused as
// bad input, naming the field, and leaves the command open for a good one.
func TestAResultWithANulByteIsRefusedAndTheCommandStaysOpen(t *testing.T) {
	d := newCommandDevice(t)
	r := d.send(adminKeyHeader, map[string]any{"type": "ping"})
	require.Equal(t, 201, r.status, "%v", r.body)
	id := r.body["id"].(string)

	for _, field := range []string{"message", "output"} {
		body, _ := json.Marshal(map[string]any{"command_id": id, "status": "succeeded", field: "pong\x00"})
		code, errCode, _ := rawPost(t, d.base+"/v1/action-result", map[string]string{"Authorization": "Bearer " + d.reg.DeviceToken}, string(body))
		assert.Equal(t, 400, code, field)
		assert.Equal(t, "invalid_field", errCode, field)
	}
	assert.NotEqual(t, "succeeded", d.get("/admin/commands/" + id).body["status"], "a refused result finishes nothing")

	code, _ := d.result(d.reg.DeviceToken, id, "succeeded")
	assert.Equal(t, 200, code, "the device's corrected result is taken")
	d.awaitStatus(id, "succeeded")
}

// The largest requests the API promises fit its body limits: a bulk
// command naming 10,000 devices, a result with 64 KiB of output.
func TestLargestPromisedRequestsFit(t *testing.T) {
	d := newCommandDevice(t)
	ids := []string{d.reg.DeviceID}
	for len(ids) < 10_000 {
		ids = append(ids, uuid.NewString()) // unknown devices are skipped
	}
	r := d.do("POST", "/admin/commands/bulk", adminKeyHeader, map[string]any{"device_ids": ids, "type": "ping"})
	require.Equal(t, 201, r.status, "%v", r.body)
	assert.EqualValues(t, 1, r.body["queued"])
	id := r.body["command_ids"].([]any)[0].(string)

	for size, want := range map[int]int{64<<10 + 1: 400, 64 << 10: 200} {
		body, _ := json.Marshal(map[string]any{"command_id": id, "status": "succeeded", "output": strings.Repeat("o", size)})
		code, _, _ := rawPost(t, d.base+"/v1/action-result", map[string]string{"Authorization": "Bearer " + d.reg.DeviceToken}, string(body))
		assert.Equal(t, want, code, "output of %d bytes", size)
	}
}
