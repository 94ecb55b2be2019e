package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
	"github.com/nexmdm/nexmdm/loadgen/fakefcm"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// fcmFleet is a server that pushes commands through the real firebase
// client to a local fake FCM.
type fcmFleet struct {
	api
	fcm    *fakefcm.Server
	client *client.Client
	db     *testenv.DB
}

func newFCMFleet(t *testing.T) fcmFleet {
	fcm, err := fakefcm.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Close() })
	e, db, _ := newTestEnv(t)
	e["NEXMDM_FCM_PROJECT_ID"] = "nexmdm-test"
	e["NEXMDM_FCM_ENDPOINT"] = fcm.Endpoint()
	startInProcess(t, e)
	return fcmFleet{api: api{t: t, base: e.url()}, fcm: fcm, client: newClient(e.url()), db: db}
}

func (f fcmFleet) enroll(serial, fcmToken string) *client.Registration {
	f.t.Helper()
	reg, err := f.client.Register(context.Background(), defaultAdminKey, client.RegisterRequest{
		Alias: serial, Serial: serial, FCMToken: fcmToken,
	})
	require.NoError(f.t, err)
	return reg
}

func (f fcmFleet) command(reg *client.Registration, typ string) string {
	f.t.Helper()
	r := f.do("POST", "/admin/devices/"+reg.DeviceID+"/commands", adminKeyHeader, map[string]any{"type": typ})
	require.Equal(f.t, 201, r.status, "%v", r.body)
	return r.body["id"].(string)
}

func (f fcmFleet) awaitStatus(id, status string) {
	f.t.Helper()
	require.Eventually(f.t, func() bool {
		return f.do("GET", "/admin/commands/"+id, adminKeyHeader, nil).body["status"] == status
	}, 20*time.Second, 50*time.Millisecond, "command %s never became %s", id, status)
}

func TestCommandIsPushedWithFCMSignedForTheDevice(t *testing.T) {
	f := newFCMFleet(t)
	reg := f.enroll("push-1", "tok-push-1")
	got := make(chan fakefcm.Message, 1)
	f.fcm.OnMessage("tok-push-1", func(m fakefcm.Message) { got <- m })

	id := f.command(reg, "reboot")
	var msg fakefcm.Message
	select {
	case msg = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no FCM message")
	}
	var c command.Command
	require.NoError(t, json.Unmarshal([]byte(msg.Data["command"]), &c))
	key, err := base64.StdEncoding.DecodeString(reg.HMACKey)
	require.NoError(t, err)
	require.NoError(t, command.Verify(&c, reg.DeviceID, command.Keys{reg.HMACKeyID: key}, time.Now()))
	assert.Equal(t, id, c.ID)
	assert.Equal(t, "reboot", c.Type)
	f.awaitStatus(id, "sent")

	body, _ := json.Marshal(map[string]any{"command_id": id, "status": "succeeded"})
	code, _, _ := rawPost(t, f.base+"/v1/action-result", map[string]string{"Authorization": "Bearer " + reg.DeviceToken}, string(body))
	assert.Equal(t, http.StatusOK, code)
	f.awaitStatus(id, "succeeded")
}

func TestUnregisteredTokenIsForgottenAndTheDevicePulls(t *testing.T) {
	f := newFCMFleet(t)
	reg := f.enroll("gone-1", "tok-gone-1")
	f.fcm.Unregister("tok-gone-1")

	id := f.command(reg, "ping")
	require.Eventually(t, func() bool {
		var token string
		require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT fcm_token FROM devices WHERE id = $1`, reg.DeviceID).Scan(&token))
		return token == ""
	}, 20*time.Second, 50*time.Millisecond, "the dead token is cleared")
	assert.Equal(t, "queued", f.do("GET", "/admin/commands/"+id, adminKeyHeader, nil).body["status"], "not sent")

	resp, err := f.client.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now().UTC(), 50))
	require.NoError(t, err)
	require.Len(t, resp.Commands, 1, "the command arrives by the pull path")
	f.awaitStatus(id, "delivered")

	second := f.command(reg, "lock")
	resp, err = f.client.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now().UTC().Add(10*time.Second), 50))
	require.NoError(t, err)
	assert.Len(t, resp.Commands, 2)
	f.awaitStatus(second, "delivered")
	assert.Equal(t, 1, f.fcm.Attempts("tok-gone-1"), "a forgotten token is not pushed to again")
}

func TestFCMServerErrorsAndQuotaAreRetried(t *testing.T) {
	f := newFCMFleet(t)
	reg := f.enroll("flaky-1", "tok-flaky-1")
	f.fcm.FailNext("tok-flaky-1", http.StatusInternalServerError, http.StatusTooManyRequests)
	id := f.command(reg, "check_update")
	f.awaitStatus(id, "sent")
	assert.Equal(t, 3, f.fcm.Attempts("tok-flaky-1"))
	assert.Len(t, f.fcm.Messages(), 1)
}

// A command queued while FCM could not take it is pushed when the server
// starts again, even to a device that has not reported for long.
func TestQueuedCommandsArePushedAfterARestart(t *testing.T) {
	fcm, err := fakefcm.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Close() })
	e, _, _ := newTestEnv(t)
	first := startInProcess(t, e) // no FCM configured
	f := fcmFleet{api: api{t: t, base: e.url()}, fcm: fcm, client: newClient(e.url())}
	reg := f.enroll("later-1", "tok-later-1")
	id := f.command(reg, "lock")
	require.NoError(t, first.shutdown(context.Background()))

	e["NEXMDM_FCM_PROJECT_ID"] = "nexmdm-test"
	e["NEXMDM_FCM_ENDPOINT"] = fcm.Endpoint()
	startInProcess(t, e)
	f.awaitStatus(id, "sent")
	require.Len(t, fcm.Messages(), 1)
	assert.Equal(t, "tok-later-1", fcm.Messages()[0].Token)
}
