package main

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/daemon"
	"github.com/nexmdm/nexmdm/loadgen/fakefcm"
)

func TestAgentCarriesItsQueueThroughAServerOutageExactlyOnceInOrder(t *testing.T) {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_HEARTBEAT_INTERVAL"] = "1s"
	e["NEXMDM_ALLOW_SHELL"] = "1"
	srv := startProcess(t, e)
	var online atomic.Bool
	online.Store(true)
	ag := startInProcessAgent(t, e.url(), func(d *daemon.Deps) {
		d.Online = online.Load
		d.Rand = func() float64 { return 0.99 } // long backoffs: only the network's return can explain a fast drain
	}, "--allow-shell", "true", "--net-poll", "100ms")
	a := api{t: t, base: e.url()}

	// A command that is still running when the server goes away.
	r := a.do("POST", "/admin/devices/"+ag.DeviceID()+"/commands", adminKeyHeader,
		map[string]any{"type": "shell", "params": map[string]any{"cmd": "sleep 2; echo done"}})
	require.Equal(t, 201, r.status, "%v", r.body)
	cmdID := r.body["id"].(string)
	require.Eventually(t, func() bool { return len(ag.logs.find("command.run", map[string]any{"id": cmdID})) == 1 },
		20*time.Second, 10*time.Millisecond, "the agent never pulled the command\n%s", ag.logs)

	require.Equal(t, 0, srv.signal(t, syscall.SIGTERM))
	online.Store(false)
	require.Eventually(t, func() bool { return ag.QueueDepth() >= 3 }, 40*time.Second, 50*time.Millisecond,
		"the result and heartbeats of two buckets queue up while the server is away")
	// The queue can fill while the server shuts down, before the drain's
	// first delivery to the stopped server fails: wait for that failure.
	require.Eventually(t, func() bool { return len(ag.logs.find("retry.schedule", nil)) > 0 }, 10*time.Second, 20*time.Millisecond,
		"deliveries were retried with backoff\n%s", ag.logs)

	startProcess(t, e)
	online.Store(true)
	require.Eventually(t, func() bool { return ag.QueueDepth() == 0 }, 10*time.Second, 20*time.Millisecond,
		"the network's return drains the queue at once, not after the backoff\n%s", ag.logs)
	require.NotEmpty(t, ag.logs.find("net.regain", nil))

	c := a.do("GET", "/admin/commands/"+cmdID, adminKeyHeader, nil)
	assert.Equal(t, "succeeded", c.body["status"], "%v", c.body)
	assert.Equal(t, "done\n", result(c.body)["output"])

	var queued []time.Time
	seen := map[string]bool{}
	for _, l := range ag.logs.find("queue.enqueue", map[string]any{"kind": "heartbeat"}) {
		key := l["key"].(string)
		if !seen[key] {
			seen[key] = true
			n, _ := strconv.ParseInt(key, 10, 64)
			queued = append(queued, time.Unix(n*10, 0).UTC())
		}
	}
	stored := storedBuckets(t, db, ag.DeviceID())
	assert.Equal(t, queued, stored, "every queued bucket is stored once, in the order it was queued")
	assert.Empty(t, ag.logs.find("deliver.fail", map[string]any{"final": true}), "nothing was refused as a repeat")
}

func TestAgentKilledMidDrainLosesAndRepeatsNothing(t *testing.T) {
	e, db, _ := newTestEnv(t)
	startInProcess(t, e)
	state := t.TempDir()
	env := agentEnv(e.url(), state, "k9-agent")
	p := startAgentProcess(t, env)
	id := deviceBySerial(t, db, "k9-agent")
	require.Eventually(t, func() bool { return len(storedBuckets(t, db, id)) > 0 }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, p.terminate(t), "SIGTERM stops the agent cleanly\n%s", p.logs)

	// It was offline for an hour before it stopped.
	const n = 360
	backlog := queueBacklog(t, state, time.Now().Add(-3*time.Hour), n)
	isBacklog := func(b time.Time) bool { return !b.Before(backlog[0]) && !b.After(backlog[n-1]) }
	deliveredBacklog := func() []time.Time {
		var out []time.Time
		for _, b := range storedBuckets(t, db, id) {
			if isBacklog(b) {
				out = append(out, b)
			}
		}
		return out
	}

	p = startAgentProcess(t, env)
	require.Eventually(t, func() bool { return len(deliveredBacklog()) > 0 }, 5*time.Second, 10*time.Millisecond,
		"on start the agent drains within 5 s\n%s", p.logs)
	require.Eventually(t, func() bool { return len(deliveredBacklog()) >= 40 }, 20*time.Second, 5*time.Millisecond)
	p.kill9(t)
	atKill := len(deliveredBacklog())
	require.Less(t, atKill, n, "kill -9 must land mid-drain for this test to mean anything")

	p = startAgentProcess(t, env)
	require.Eventually(t, func() bool { return len(deliveredBacklog()) == n }, 30*time.Second, 20*time.Millisecond,
		"the restarted agent delivers the rest\n%s", p.logs)
	assert.Equal(t, backlog, deliveredBacklog(), "each backlog bucket stored once, in order, across the kill")
	t.Logf("kill -9 after %d of %d backlog heartbeats", atKill, n)
}

func TestAgentRunsPushedCommandsOnceAndRejectsTamperedOrStaleOnes(t *testing.T) {
	f := newFCMFleet(t)
	var skew atomic.Int64
	ag := startInProcessAgent(t, f.base, func(d *daemon.Deps) {
		d.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}, "--fcm-token", "agent-push")
	var tamper atomic.Pointer[func(map[string]string)]
	f.fcm.OnMessage("agent-push", func(m fakefcm.Message) {
		data := map[string]string{}
		for k, v := range m.Data {
			data[k] = v
		}
		if fn := tamper.Load(); fn != nil {
			(*fn)(data)
		}
		ag.Push(data)
		ag.Push(data) // delivered twice, as FCM may
	})
	a := api{t: t, base: f.base}
	send := func() string {
		r := a.do("POST", "/admin/devices/"+ag.DeviceID()+"/commands", adminKeyHeader, map[string]any{"type": "ping"})
		require.Equal(t, 201, r.status, "%v", r.body)
		return r.body["id"].(string)
	}
	final := func(id string) map[string]any {
		var body map[string]any
		require.Eventually(t, func() bool {
			body = a.do("GET", "/admin/commands/"+id, adminKeyHeader, nil).body
			return body["status"] == "succeeded" || body["status"] == "failed"
		}, 20*time.Second, 20*time.Millisecond, "command %s never finished\n%s", id, ag.logs)
		return body
	}

	id := send()
	body := final(id)
	assert.Equal(t, "succeeded", body["status"])
	assert.Equal(t, "pong", result(body)["message"])
	assert.Len(t, ag.logs.find("command.run", map[string]any{"id": id}), 1, "pushed twice, run once")

	changeParams := func(data map[string]string) {
		var c map[string]any
		require.NoError(t, json.Unmarshal([]byte(data["command"]), &c))
		c["params_json"] = `{"extra":true}`
		raw, _ := json.Marshal(c)
		data["command"] = string(raw)
	}
	tamper.Store(&changeParams)
	id = send()
	body = final(id)
	assert.Equal(t, "failed", body["status"])
	assert.Contains(t, result(body)["message"], "signature does not match")
	assert.Empty(t, ag.logs.find("command.run", map[string]any{"id": id}), "a tampered command never runs")

	tamper.Store(nil)
	skew.Store(int64(10 * time.Minute))
	id = send()
	body = final(id)
	assert.Equal(t, "failed", body["status"])
	assert.Contains(t, result(body)["message"], "more than 5 minutes")
}

func TestAgentStopsAndWipesItsCredentialsOn410(t *testing.T) {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_HEARTBEAT_INTERVAL"] = "1s"
	startInProcess(t, e)
	state := t.TempDir()
	env := agentEnv(e.url(), state, "gone-agent")
	p := startAgentProcess(t, env)
	id := deviceBySerial(t, db, "gone-agent")
	require.Eventually(t, func() bool { return len(storedBuckets(t, db, id)) > 0 }, 20*time.Second, 20*time.Millisecond)

	// Enrolling the serial again elsewhere revokes this agent's token.
	_, err := newClient(e.url()).Register(context.Background(), defaultAdminKey,
		registerRequest("gone-agent"))
	require.NoError(t, err)
	assert.Equal(t, daemon.ExitGone, p.exitCode(t), "%s", p.logs)
	assert.NotEmpty(t, p.logs.find("credentials.wipe", nil))

	delete(env, "NEXMDM_AGENT_ENROLL_KEY")
	p = startAgentProcess(t, env)
	assert.Equal(t, daemon.ExitUnauthorized, p.exitCode(t), "with its credentials gone it is not enrolled\n%s", p.logs)
}

func TestAgentEnrollsAgainOn401OnlyWithAnEnrollKey(t *testing.T) {
	first, _, _ := newTestEnv(t)
	startInProcess(t, first)
	state := t.TempDir()
	env := agentEnv(first.url(), state, "moved-agent")
	p := startAgentProcess(t, env)
	require.Eventually(t, func() bool { return len(p.logs.find("deliver.ok", nil)) > 0 }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, p.terminate(t))

	// A server that never heard of the device (a fresh database) answers 401.
	second, db2, _ := newTestEnv(t)
	startInProcess(t, second)
	env["NEXMDM_AGENT_SERVER"] = second.url()
	noKey := map[string]string{}
	for k, v := range env {
		noKey[k] = v
	}
	delete(noKey, "NEXMDM_AGENT_ENROLL_KEY")
	p = startAgentProcess(t, noKey)
	assert.Equal(t, daemon.ExitUnauthorized, p.exitCode(t), "%s", p.logs)
	assert.Contains(t, p.logs.String(), "no enroll key")

	p = startAgentProcess(t, env)
	id := deviceBySerial(t, db2, "moved-agent")
	require.Eventually(t, func() bool { return len(storedBuckets(t, db2, id)) > 0 }, 20*time.Second, 20*time.Millisecond,
		"with its enroll key it enrolls with the new server and carries on\n%s", p.logs)
	assert.True(t, slices.ContainsFunc(p.logs.find("enroll.ok", nil), func(m map[string]any) bool { return m["device_id"] == id }))
}

// result is a command's result as GET /admin/commands/{id} shows it.
func result(command map[string]any) map[string]any {
	r, _ := command["result"].(map[string]any)
	return r
}
