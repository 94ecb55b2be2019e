package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors/rollout"
	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// releaseFleet is a server with enrolled devices, each reporting an agent
// version, and builds in the registry.
type releaseFleet struct {
	api
	client *client.Client
	regs   []*client.Registration
	db     *testenv.DB
}

func newReleaseFleet(t *testing.T, n, versionCode int) releaseFleet {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_VERSION_SAMPLE_EVERY"] = "200ms"
	startInProcess(t, e)
	cl := newClient(e.url())
	f := releaseFleet{api: api{t: t, base: e.url()}, client: cl, regs: enrollFleet(t, cl, "ota", n), db: db}
	for i := range f.regs {
		f.report(i, versionCode)
	}
	return f
}

// report sends a heartbeat saying device i runs versionCode.
func (f releaseFleet) report(i, versionCode int) {
	f.t.Helper()
	hb := fullHeartbeat(time.Now(), 80)
	hb.AgentVersionCode = &versionCode
	_, err := f.client.Heartbeat(context.Background(), f.regs[i].DeviceToken, hb)
	require.NoError(f.t, err)
}

// build puts an uploaded build of the agent into the registry directly.
func (f releaseFleet) build(versionCode int) uuid.UUID {
	f.t.Helper()
	id := uuid.New()
	sum := sha256.Sum256([]byte(fmt.Sprint("build ", versionCode)))
	_, err := f.db.Pool.Exec(context.Background(), `INSERT INTO apk_builds (id, package, version_code, version_name, sha256,
		channel, size_bytes, blob_key, uploaded_at, registered_by, registered_at)
		VALUES ($1, 'com.nexmdm.agent', $2, $3, $4, 'stable', 1234, 'apk/' || $4, now(), 'test', now())`,
		id, versionCode, fmt.Sprintf("1.%d", versionCode), hex.EncodeToString(sum[:]))
	require.NoError(f.t, err)
	return id
}

func (f releaseFleet) admin(method, path string, body any) answer {
	f.t.Helper()
	return f.do(method, path, adminKeyHeader, body)
}

// release creates a draft release of build at percent.
func (f releaseFleet) release(build uuid.UUID, percent int, extra map[string]any) string {
	f.t.Helper()
	body := map[string]any{"build_id": build, "rollout_percent": percent}
	for k, v := range extra {
		body[k] = v
	}
	r := f.admin("POST", "/admin/releases", body)
	require.Equal(f.t, 201, r.status, "%v", r.body)
	assert.Equal(f.t, "draft", r.body["status"])
	return r.body["id"].(string)
}

func (f releaseFleet) change(id, action string, body any) answer {
	f.t.Helper()
	r := f.admin("POST", "/admin/releases/"+id+"/"+action, body)
	require.Equal(f.t, 200, r.status, "%s: %v", action, r.body)
	return r
}

// offer asks for device i's update: its version_code, or 0 for none.
func (f releaseFleet) offer(i int) int {
	f.t.Helper()
	o, err := f.client.CheckUpdate(context.Background(), f.regs[i].DeviceToken, "")
	require.NoError(f.t, err)
	if o == nil {
		return 0
	}
	return o.VersionCode
}

// offered lists the devices that are offered an update now.
func (f releaseFleet) offered() []int {
	var out []int
	for i := range f.regs {
		if f.offer(i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

func (f releaseFleet) cohort(release string, percent int) []int {
	var out []int
	for i, r := range f.regs {
		if rollout.InCohort(uuid.MustParse(release), uuid.MustParse(r.DeviceID), percent) {
			out = append(out, i)
		}
	}
	return out
}

func TestOffersFollowTheCohortTheVersionAndTheReleaseState(t *testing.T) {
	f := newReleaseFleet(t, 200, 10)
	rel := f.release(f.build(20), 10, nil)
	assert.Empty(t, f.offered(), "a draft offers nothing")

	f.change(rel, "promote", nil)
	assert.Equal(t, f.cohort(rel, 10), f.offered(), "exactly the 10%% cohort is offered")
	o, err := f.client.CheckUpdate(context.Background(), f.regs[f.cohort(rel, 10)[0]].DeviceToken, "stable")
	require.NoError(t, err)
	assert.Equal(t, "/v1/agent/download/", o.URL[:len("/v1/agent/download/")])
	assert.Len(t, o.SHA256, 64)
	assert.True(t, o.NotInCall, "not_in_call defaults on")

	r := f.admin("PATCH", "/admin/releases/"+rel, map[string]any{"rollout_percent": 30})
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.Equal(t, f.cohort(rel, 30), f.offered(), "raising the percent adds devices")
	assert.Subset(t, f.offered(), f.cohort(rel, 10), "and keeps the first ones")

	in := f.cohort(rel, 30)[0]
	f.report(in, 20)
	assert.Zero(t, f.offer(in), "a device on the release's version is not offered it")
	f.report(in, 30)
	assert.Zero(t, f.offer(in), "nor is a newer one downgraded")

	f.change(rel, "pause", map[string]any{"reason": "investigating"})
	assert.Empty(t, f.offered(), "paused")
	f.change(rel, "resume", nil)
	assert.NotEmpty(t, f.offered())
	f.admin("PATCH", "/admin/releases/"+rel, map[string]any{"rollout_percent": 5})
	want := slices.DeleteFunc(f.cohort(rel, 5), func(i int) bool { return i == in })
	assert.Equal(t, want, f.offered(), "lowering stops offers beyond the 5%% cohort")

	o, err = f.client.CheckUpdate(context.Background(), f.regs[0].DeviceToken, "beta")
	require.NoError(t, err)
	assert.Nil(t, o, "another channel has no release")
}

func TestReleaseRequestsAreCheckedAndOneReleasePerChannelIsCurrent(t *testing.T) {
	f := newReleaseFleet(t, 2, 10)
	for name, c := range map[string]struct {
		body   map[string]any
		status int
		code   string
	}{
		"no build":          {map[string]any{"rollout_percent": 10}, 400, "missing_field"},
		"unknown build":     {map[string]any{"build_id": uuid.New(), "rollout_percent": 10}, 404, "build_not_found"},
		"percent 0":         {map[string]any{"build_id": f.build(11), "rollout_percent": 0}, 400, "invalid_field"},
		"percent 101":       {map[string]any{"build_id": f.build(12), "rollout_percent": 101}, 400, "invalid_field"},
		"battery above 100": {map[string]any{"build_id": f.build(13), "rollout_percent": 5, "min_battery_pct": 150}, 400, "invalid_field"},
	} {
		r := f.admin("POST", "/admin/releases", c.body)
		assert.Equal(t, c.status, r.status, "%s: %v", name, r.body)
		assert.Equal(t, c.code, r.code, name)
	}
	notUploaded := uuid.New()
	_, err := f.db.Pool.Exec(context.Background(), `INSERT INTO apk_builds (id, package, version_code, sha256, channel,
		registered_by, registered_at) VALUES ($1, 'com.nexmdm.agent', 99, $2, 'stable', 'test', now())`, notUploaded, fmt.Sprintf("%064d", 0))
	require.NoError(t, err)
	assert.Equal(t, "build_not_uploaded", f.admin("POST", "/admin/releases", map[string]any{"build_id": notUploaded, "rollout_percent": 5}).code)

	first := f.release(f.build(20), 50, nil)
	second := f.release(f.build(30), 50, nil)
	f.change(first, "promote", nil)
	f.change(second, "promote", nil)
	assert.Equal(t, "superseded", f.admin("GET", "/admin/releases/"+first, nil).body["status"], "promoting replaces the channel's current release")
	assert.Equal(t, "release_state", f.admin("POST", "/admin/releases/"+first+"/promote", nil).code, "a superseded release cannot come back by promote")
	assert.Equal(t, "release_state", f.admin("POST", "/admin/releases/"+second+"/resume", nil).code, "only a paused release resumes")
	assert.Equal(t, 403, f.do("POST", "/admin/releases/"+second+"/pause", bearer(f.viewerToken()), nil).status, "viewers cannot steer releases")
	list := f.admin("GET", "/admin/releases?channel=stable", nil)
	assert.Len(t, list.body["items"], 2)
}

func (f releaseFleet) viewerToken() string {
	f.t.Helper()
	name := "viewer-" + uuid.NewString()[:8]
	tok, _ := f.login(name, f.addUser(name, "viewer"))
	return tok
}

func TestPromotingAndRaisingNudgeOnlyNewlyEligibleDevices(t *testing.T) {
	f := newReleaseFleet(t, 150, 10)
	rel := f.release(f.build(20), 10, nil)
	f.change(rel, "promote", nil)
	assert.Equal(t, f.cohort(rel, 10), f.nudged(), "promote nudges the cohort")
	f.admin("PATCH", "/admin/releases/"+rel, map[string]any{"rollout_percent": 30})
	assert.Equal(t, f.cohort(rel, 30), f.nudged(), "raising nudges the devices it adds")
	assert.Equal(t, len(f.cohort(rel, 30)), f.nudges(), "each device once")
	f.admin("PATCH", "/admin/releases/"+rel, map[string]any{"rollout_percent": 20})
	assert.Equal(t, len(f.cohort(rel, 30)), f.nudges(), "lowering nudges no one")
}

// nudged lists the devices that got a check_update command.
func (f releaseFleet) nudged() []int {
	f.t.Helper()
	rows, err := f.db.Pool.Query(context.Background(), `SELECT DISTINCT device_id::text FROM commands WHERE type = 'check_update'`)
	require.NoError(f.t, err)
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		require.NoError(f.t, rows.Scan(&id))
		ids[id] = true
	}
	var out []int
	for i, r := range f.regs {
		if ids[r.DeviceID] {
			out = append(out, i)
		}
	}
	return out
}

func (f releaseFleet) nudges() int {
	var n int
	require.NoError(f.t, f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM commands WHERE type = 'check_update'`).Scan(&n))
	return n
}

func TestRollbackRestoresThePreviousReleaseAndReportsUpdatedDevices(t *testing.T) {
	f := newReleaseFleet(t, 20, 10)
	old := f.release(f.build(20), 100, nil)
	f.change(old, "promote", nil)
	for i := range 10 {
		f.report(i, 20)
	}
	newBuild := f.build(30)
	bad := f.release(newBuild, 100, nil)
	f.change(bad, "promote", nil)
	for i := range 3 {
		f.report(i, 30)
	}
	assert.Equal(t, 30, f.offer(15), "before the rollback the new release is offered")

	r := f.change(bad, "rollback", nil)
	assert.Equal(t, "rolled_back", r.body["rolled_back"].(map[string]any)["status"])
	restored := r.body["restored"].(map[string]any)
	assert.Equal(t, old, restored["id"])
	assert.Equal(t, "active", restored["status"])
	assert.EqualValues(t, 100, restored["rollout_percent"])
	updated := r.body["already_updated"].(map[string]any)
	assert.EqualValues(t, 3, updated["count"], "the devices that took the release are reported")
	assert.Len(t, updated["device_ids"], 3)

	assert.Equal(t, 20, f.offer(15), "a device that had not updated is offered the previous release")
	assert.Zero(t, f.offer(5), "a device on it already is offered nothing")
	assert.Zero(t, f.offer(0), "a device that took the bad release keeps it unless the rollback downgrades")

	again := f.release(newBuild, 100, nil)
	f.change(again, "promote", nil)
	r = f.change(again, "rollback", map[string]any{"downgrade": true})
	assert.Equal(t, true, r.body["already_updated"].(map[string]any)["offered_previous"])
	assert.Equal(t, 20, f.offer(0), "with downgrade, it is taken back")
	assert.Contains(t, f.nudged(), 0, "and nudged to check now")
}

func TestFailuresPastTheThresholdPauseTheRelease(t *testing.T) {
	f := newReleaseFleet(t, 5, 10)
	rel := f.release(f.build(20), 100, map[string]any{"failure_min_devices": 3, "failure_threshold_pct": 50})
	f.change(rel, "promote", nil)
	event := func(i int, ev string) int {
		code, _, _ := rawPost(t, f.base+"/v1/agent/update-events", map[string]string{"Authorization": "Bearer " + f.regs[i].DeviceToken},
			mustJSON(t, map[string]any{"release_id": rel, "version_code": 20, "event": ev, "message": "m"}))
		return code
	}
	require.Equal(t, 202, event(0, "offered"))
	require.Equal(t, 202, event(0, "installed"))
	require.Equal(t, 202, event(1, "failed"))
	assert.Equal(t, "active", f.admin("GET", "/admin/releases/"+rel, nil).body["status"], "too few devices tried to judge")
	require.Equal(t, 202, event(2, "failed"))

	got := f.admin("GET", "/admin/releases/"+rel, nil).body
	assert.Equal(t, "paused", got["status"], "2 of 3 failed, over 50%%")
	assert.Contains(t, got["paused_reason"], "auto-paused: 2 of 3 devices failed")
	assert.Empty(t, f.offered(), "a paused release offers nothing")
	audit := f.admin("GET", "/admin/audit?action=release.auto_pause", nil)
	assert.Len(t, audit.body["entries"], 1)

	adoption := f.admin("GET", "/admin/releases/"+rel+"/adoption", nil).body
	assert.Equal(t, map[string]any{"installed": float64(1), "failed": float64(2)}, adoption["states"])
	assert.NotEmpty(t, adoption["timeline"])
	assert.NotEmpty(t, adoption["versions"])
	require.Eventually(t, func() bool {
		h, _ := f.admin("GET", "/admin/releases/"+rel+"/adoption", nil).body["version_history"].([]any)
		return slices.ContainsFunc(h, func(v any) bool {
			s := v.(map[string]any)
			return s["version_code"] == float64(10) && s["devices"] == float64(5)
		})
	}, 10*time.Second, 100*time.Millisecond, "the fleet's versions over time: a sample with all five on version 10")

	code, errCode, _ := rawPost(t, f.base+"/v1/agent/update-events", map[string]string{"Authorization": "Bearer " + f.regs[3].DeviceToken},
		mustJSON(t, map[string]any{"release_id": rel, "version_code": 20, "event": "exploded"}))
	assert.Equal(t, 400, code)
	assert.Equal(t, "invalid_field", errCode)
	code, _, _ = rawPost(t, f.base+"/v1/agent/update-events", map[string]string{"Authorization": "Bearer " + f.regs[3].DeviceToken},
		mustJSON(t, map[string]any{"release_id": uuid.New(), "version_code": 20, "event": "failed"}))
	assert.Equal(t, 404, code)
	code, _, _ = rawPost(t, f.base+"/v1/agent/update-events", map[string]string{"Authorization": "Bearer nope"}, `{}`)
	assert.Equal(t, 401, code)
}

func TestInstallAPKCommandsCarryTheSignedFileFacts(t *testing.T) {
	f := newReleaseFleet(t, 1, 10)
	build := f.build(20)
	r := f.admin("POST", "/admin/devices/"+f.regs[0].DeviceID+"/commands",
		map[string]any{"type": "install_apk", "params": map[string]any{"build_id": build}})
	require.Equal(t, 201, r.status, "%v", r.body)
	resp, err := f.client.Heartbeat(context.Background(), f.regs[0].DeviceToken, fullHeartbeat(time.Now(), 70))
	require.NoError(t, err)
	require.Len(t, resp.Commands, 1)
	var cmd struct {
		ParamsJSON string `json:"params_json"`
	}
	require.NoError(t, json.Unmarshal(resp.Commands[0], &cmd))
	var params map[string]any
	require.NoError(t, json.Unmarshal([]byte(cmd.ParamsJSON), &params))
	sum := sha256.Sum256([]byte("build 20"))
	assert.Equal(t, map[string]any{"build_id": build.String(), "package": "com.nexmdm.agent", "version_code": float64(20),
		"sha256": hex.EncodeToString(sum[:]), "size": float64(1234), "url": "/v1/agent/download/" + build.String()}, params,
		"the signature covers the hash the device checks the file against")

	r = f.admin("POST", "/admin/devices/"+f.regs[0].DeviceID+"/commands",
		map[string]any{"type": "install_apk", "params": map[string]any{"build_id": uuid.New()}})
	assert.Equal(t, 400, r.status)
	assert.Equal(t, "params.build_id", r.body["field"])
}
