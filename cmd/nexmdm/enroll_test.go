package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/ingress/enrollscript"
)

// enrollEnv is a server with an uploaded agent build, and a fake adb
// that plays the device the enrollment scripts talk to.
type enrollEnv struct {
	*apkEnv
	buildID string
	apk     []byte
	adbDir  string
}

// newEnrollEnv starts the server; with bloatware, the scripts disable
// those packages, as an operator's NEXMDM_ENROLL_BLOATWARE_FILE says.
func newEnrollEnv(t *testing.T, bloatware ...string) *enrollEnv {
	t.Helper()
	more := env{}
	if bloatware != nil {
		file := filepath.Join(t.TempDir(), "bloatware.txt")
		require.NoError(t, os.WriteFile(file, []byte("# ours\n"+strings.Join(bloatware, "\n")+"\n"), 0o644))
		more["NEXMDM_ENROLL_BLOATWARE_FILE"] = file
	}
	a := newAPKEnvWith(t, 0, more)
	apk := apkFixture(t, 64<<10, true)
	id := a.registered("com.nexmdm.agent", 7, apk)
	require.Equal(t, 200, a.upload(adminKeyHeader, id, apk, false, false).status)
	adbDir, err := filepath.Abs(filepath.Join("testdata", "fakeadb"))
	require.NoError(t, err)
	return &enrollEnv{apkEnv: a, buildID: id, apk: apk, adbDir: adbDir}
}

// getScript GETs a script as text.
func (e *enrollEnv) getScript(path string, h map[string]string) (int, http.Header, string) {
	status, hdr, body := e.download(path, h, "")
	return status, hdr, string(body)
}

// scripts mints every form with one key, as the dashboard does.
func (e *enrollEnv) scripts(alias string) (forms map[string]string, keyID string) {
	e.t.Helper()
	r := e.do("GET", "/admin/enroll/script?kind=all&alias="+url.QueryEscape(alias), adminKeyHeader, nil)
	require.Equal(e.t, 200, r.status, "%v", r.body)
	forms = map[string]string{}
	for k, v := range r.body["scripts"].(map[string]any) {
		forms[k] = v.(string)
	}
	return forms, r.body["key_id"].(string)
}

// scriptRun is one run of a bash form against the fake device.
type scriptRun struct {
	code       int
	out        string
	device     string // the fake device's state directory
	diag       string // the diagnostics file, "" when none was written
	registered *client.Registration
}

// runScript runs a bash form (a file's text, or a one-liner) with the fake
// adb first on PATH. fake sets FAKE_ADB_* variables. With register, the
// test acts as the agent: once the configuration broadcast arrives, it
// registers with the enroll key and alias the broadcast carries.
func (e *enrollEnv) runScript(t *testing.T, script string, oneLiner bool, fake map[string]string, register bool) scriptRun {
	t.Helper()
	dir := t.TempDir()
	device := filepath.Join(dir, "device")
	require.NoError(t, os.Mkdir(device, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if oneLiner {
		cmd = exec.CommandContext(ctx, "bash", "-c", script)
	} else {
		file := filepath.Join(dir, "enroll.sh")
		require.NoError(t, os.WriteFile(file, []byte(script), 0o700))
		cmd = exec.CommandContext(ctx, "bash", file)
	}
	diag := filepath.Join(dir, "mdm_enroll_diag.txt")
	cmd.Env = append(os.Environ(), "PATH="+e.adbDir+":"+os.Getenv("PATH"), "TMPDIR="+dir,
		"FAKE_ADB_DIR="+device, "NEXMDM_WAIT_DEVICE_S=1", "NEXMDM_VERIFY_TIMEOUT_S=4", "NEXMDM_DIAG_FILE="+diag,
		"FAKE_ADB_PRESENT=com.facebook.katana com.google.android.youtube com.samsung.android.bixby.agent")
	if register {
		cmd.Env = append(cmd.Env, "NEXMDM_VERIFY_TIMEOUT_S=30")
	}
	for k, v := range fake {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	registered := make(chan *client.Registration, 1)
	done := make(chan struct{})
	if register {
		go func() { registered <- actAsAgent(ctx, e.base, device, done) }()
	} else {
		registered <- nil
	}
	out, err := cmd.CombinedOutput()
	close(done)
	run := scriptRun{out: string(out), device: device, registered: <-registered}
	if exit, ok := err.(*exec.ExitError); ok {
		run.code = exit.ExitCode()
	} else {
		require.NoError(t, err, "%s", out)
	}
	if _, err := os.Stat(diag); err == nil {
		run.diag = readFile(t, diag)
	}
	return run
}

// actAsAgent waits for the configuration broadcast on the fake device and
// registers as the agent would: with its enroll key, alias and serial.
func actAsAgent(ctx context.Context, base, device string, done <-chan struct{}) *client.Registration {
	for {
		select {
		case <-done:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		raw, err := os.ReadFile(filepath.Join(device, "broadcast.env"))
		if err != nil {
			continue
		}
		extras := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			k, v, _ := strings.Cut(line, "=")
			extras[k] = v
		}
		alias, err := base64.RawURLEncoding.DecodeString(extras["alias_b64"])
		if err != nil || extras["server_url"] != base {
			return nil
		}
		reg, err := newClient(extras["server_url"]).Register(ctx, extras["enroll_key"],
			client.RegisterRequest{Alias: string(alias), Serial: "FAKE0001", Model: "Pixel 7", SDKInt: 34})
		if err != nil {
			return nil
		}
		return reg
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// shortBloatware is an operator's list: two on the fake device, one not.
var shortBloatware = []string{"com.facebook.katana", "com.google.android.youtube", "com.example.absent"}

const scriptAlias = `Till 3 "; rm -rf / # & del`

// The bash script takes the fake device through all nine steps; the
// device registers with the broadcast's key and keeps its alias, quotes,
// ampersand and all.
func TestTheBashScriptEnrollsADeviceEndToEnd(t *testing.T) {
	e := newEnrollEnv(t)
	forms, keyID := e.scripts(scriptAlias)
	run := e.runScript(t, forms["sh"], false, nil, true)
	require.Equal(t, 0, run.code, "%s", run.out)
	require.NotNil(t, run.registered, "the broadcast carried a working enroll key")

	at := 0
	for _, s := range enrollscript.Steps {
		i := strings.Index(run.out[at:], "] "+s.Title)
		require.GreaterOrEqual(t, i, 0, "step %d (%s) printed in order:\n%s", s.N, s.Title, run.out)
		at += i
	}
	assert.Equal(t, 1+1+1+1+7+1+8+2+2+1, strings.Count(run.out, "✅"), "a tick per check:\n%s", run.out)
	assert.NotContains(t, run.out, "❌")
	assert.Contains(t, run.out, "Usage Access, Android 14+: Settings > Apps > Special app access > Usage access")
	assert.Contains(t, run.out, "Full-Screen Intents, Android 14+: Settings > Apps > Special app access > Full screen notifications")
	assert.Empty(t, run.diag, "no diagnostics on success")

	var alias, keyOf string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT alias, enroll_key_id::text FROM devices WHERE serial = 'FAKE0001'`).Scan(&alias, &keyOf))
	assert.Equal(t, scriptAlias, alias)
	assert.Equal(t, keyID, keyOf, "registered with the script's own key")

	assert.Equal(t, e.apk, []byte(readFile(t, filepath.Join(run.device, "installed.apk"))), "the registry's build, byte for byte")
	assert.Equal(t, "com.nexmdm.agent/.AdminReceiver\n", readFile(t, filepath.Join(run.device, "owner")))
	assert.ElementsMatch(t, []string{"android.permission.ACCESS_FINE_LOCATION", "android.permission.READ_PHONE_STATE",
		"android.permission.ACCESS_BACKGROUND_LOCATION", "android.permission.POST_NOTIFICATIONS"},
		strings.Fields(readFile(t, filepath.Join(run.device, "granted"))))
	assert.ElementsMatch(t, []string{"com.facebook.katana", "com.google.android.youtube", "com.samsung.android.bixby.agent"},
		strings.Fields(readFile(t, filepath.Join(run.device, "disabled"))), "present bloatware disabled, missing skipped")
	assert.Contains(t, run.out, "disabled 3 of ")
	settings := readFile(t, filepath.Join(run.device, "settings"))
	for _, s := range []string{"global app_standby_enabled 0", "secure doze_pulse_on_pick_up 1", "system screen_brightness_mode 0"} {
		assert.Contains(t, settings, "put "+s)
	}
	broadcast := readFile(t, filepath.Join(run.device, "broadcast.env"))
	assert.Contains(t, broadcast, "action=com.nexmdm.agent.CONFIGURE\ncomponent=com.nexmdm.agent/.ConfigReceiver\n")
	assert.Contains(t, broadcast, "server_url="+e.base+"\n")
	assert.Equal(t, []string{fmt.Sprintf("enrollment key:enroll script: %s 0 %d", scriptAlias, len(e.apk))}, e.downloads(e.buildID))
}

// Each failure point exits with its own code, prints a fix, and writes
// the diagnostics file with the device's log, usage stats, doze and
// standby state.
func TestEachFailingStepExitsWithItsCodeAHintAndDiagnostics(t *testing.T) {
	e := newEnrollEnv(t, shortBloatware...)
	forms, keyID := e.scripts("Till 4")
	cases := []struct {
		name string
		fake map[string]string
		code int
		fix  string
	}{
		{"no device", map[string]string{"FAKE_ADB_STATE": "absent"}, 2, "Fix: connect the device with a data USB cable"},
		{"unauthorised", map[string]string{"FAKE_ADB_STATE": "unauthorized"}, 2, "Fix: unlock the device and accept the Allow USB debugging prompt"},
		{"two devices", map[string]string{"FAKE_ADB_STATE": "multiple"}, 2, "or set ANDROID_SERIAL to its serial"},
		{"install refused", map[string]string{"FAKE_ADB_FAIL": "install"}, 4, "Fix: a copy signed with another key is installed: adb uninstall com.nexmdm.agent"},
		{"device has accounts", map[string]string{"FAKE_ADB_FAIL": "owner"}, 5, "Fix: factory reset the device; Device Owner needs a device with no accounts"},
		{"permission refused", map[string]string{"FAKE_ADB_FAIL": "grant"}, 6, "Fix: the APK must declare the permission above"},
		{"no battery exemption", map[string]string{"FAKE_ADB_FAIL": "deviceidle"}, 7, "Battery > Unrestricted"},
		{"no launcher", map[string]string{"FAKE_ADB_FAIL": "launch"}, 8, "Fix: the APK needs a launcher activity"},
		{"broadcast undelivered", map[string]string{"FAKE_ADB_FAIL": "broadcast"}, 8, "Fix: the APK must declare the receiver com.nexmdm.agent/.ConfigReceiver"},
		{"agent not running", map[string]string{"FAKE_ADB_FAIL": "service"}, 9, "Fix: open the app once on the device"},
		{"never registers", nil, 9, "Fix: check that the device reaches " + e.base},
	}
	check := func(t *testing.T, run scriptRun, code int, fix string) {
		assert.Equal(t, code, run.code, "%s", run.out)
		assert.Contains(t, run.out, "❌", "%s", run.out)
		assert.Contains(t, run.out, fix)
		require.NotEmpty(t, run.diag, "a diagnostics file")
		for _, section := range []string{"== logcat (agent)", "== usage stats", "== doze (deviceidle)", "== standby bucket"} {
			assert.Contains(t, run.diag, section)
		}
		assert.NotContains(t, run.diag, "nxk_", "the diagnostics leave the key out")
	}
	t.Run("steps", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				check(t, e.runScript(t, forms["sh"], false, c.fake, false), c.code, c.fix)
			})
		}
	})
	t.Run("the APK was altered in storage", func(t *testing.T) {
		path := filepath.Join(e.blobs, "apk", sha256Hex(e.apk))
		require.NoError(t, os.WriteFile(path, append([]byte("evil"), e.apk[4:]...), 0o644))
		run := e.runScript(t, forms["sh"], false, nil, false)
		check(t, run, 3, "Fix: the download was corrupted or altered on the way")
		require.NoError(t, os.WriteFile(path, e.apk, 0o644))
	})
	t.Run("the key was revoked", func(t *testing.T) {
		require.Equal(t, 200, e.do("DELETE", "/admin/keys/"+keyID, adminKeyHeader, nil).status)
		run := e.runScript(t, forms["sh"], false, nil, false)
		check(t, run, 3, "Fix: the enroll key has expired or was revoked: generate a new script")
	})
}

// The bash one-liner fetches the full script with its key and runs it:
// the same nine steps, the same exit codes.
func TestTheBashOneLinerEnrollsAndPassesOnExitCodes(t *testing.T) {
	e := newEnrollEnv(t, shortBloatware...)
	forms, _ := e.scripts("& del")
	oneLiner := forms["sh-oneliner"]
	assert.NotContains(t, oneLiner, "\n", "one line")

	run := e.runScript(t, oneLiner, true, nil, true)
	require.Equal(t, 0, run.code, "%s", run.out)
	assert.Contains(t, run.out, "[9/9] Verify service and registration")
	require.NotNil(t, run.registered)

	assert.Contains(t, run.out, "disabled 2 of 3 listed packages", "the operator's list")
	run = e.runScript(t, oneLiner, true, map[string]string{"FAKE_ADB_FAIL": "owner"}, false)
	assert.Equal(t, 5, run.code, "%s", run.out)
	assert.Contains(t, run.out, "Fix: factory reset the device")
}

// Minting a script is for people and admin keys, checks its input, embeds
// a fresh 24-hour enroll key (never the admin key), and is audited.
func TestScriptsAreMintedWithAFreshEnrollKeyAndAudited(t *testing.T) {
	e := newEnrollEnv(t)
	opPw, viewerPw := e.addUser("op", "operator"), e.addUser("watcher", "viewer")
	op, _ := e.login("op", opPw)
	viewer, _ := e.login("watcher", viewerPw)
	_, enrollOnly := e.addKey("ci-enroll", "enroll")

	status, hdr, body := e.getScript("/admin/enroll/script?kind=sh&alias=Till+5", bearer(op))
	require.Equal(t, 200, status, body)
	assert.Equal(t, `attachment; filename="nexmdm-enroll-till-5.sh"`, hdr.Get("Content-Disposition"))
	assert.Equal(t, "no-store", hdr.Get("Cache-Control"))
	assert.True(t, strings.HasPrefix(body, "#!/usr/bin/env bash\n"))
	assert.NotContains(t, body, defaultAdminKey)
	status, hdr, body = e.getScript("/admin/enroll/script?kind=cmd&alias=Till+5", bearer(op))
	require.Equal(t, 200, status, body)
	assert.Equal(t, `attachment; filename="nexmdm-enroll-till-5.cmd"`, hdr.Get("Content-Disposition"))
	assert.Contains(t, body, "if not defined NEXMDM_NO_PAUSE pause\r\nexit /b %RC%", "the console stays open")

	for _, c := range []struct {
		path string
		h    map[string]string
		want int
		code string
	}{
		{"/admin/enroll/script?kind=sh&alias=x", bearer(viewer), 403, "forbidden"},
		{"/admin/enroll/script?kind=sh&alias=x", map[string]string{"X-Admin-Key": enrollOnly}, 403, "forbidden"},
		{"/admin/enroll/script?kind=sh&alias=x", nil, 401, "unauthenticated"},
		{"/admin/enroll/script?alias=x", bearer(op), 400, "missing_field"},
		{"/admin/enroll/script?kind=zsh&alias=x", bearer(op), 400, "invalid_field"},
		{"/admin/enroll/script?kind=sh", bearer(op), 400, "invalid_field"},
		{"/admin/enroll/script?kind=sh&alias=a%0Ab", bearer(op), 400, "invalid_field"},
		{"/admin/enroll/script?kind=sh&alias=x&expires_in_hours=0", bearer(op), 400, "invalid_field"},
		{"/admin/enroll/script?kind=sh&alias=x&build_id=nope", bearer(op), 400, "invalid_field"},
		{"/v1/enroll/script?kind=sh&alias_b64=eA", adminKeyHeader, 403, "enroll_key_required"},
		{"/v1/enroll/script?kind=sh&alias_b64=***", map[string]string{"X-Admin-Key": enrollOnly}, 400, "invalid_field"},
		{"/v1/enroll/status", map[string]string{"X-Admin-Key": enrollOnly}, 400, "invalid_field"},
		{"/v1/enroll/status?serial=nobody", map[string]string{"X-Admin-Key": enrollOnly}, 404, "not_registered"},
	} {
		r := e.do("GET", c.path, c.h, nil)
		assert.Equal(t, c.want, r.status, "%s: %v", c.path, r.body)
		assert.Equal(t, c.code, r.code, c.path)
	}

	r := e.do("GET", "/admin/enroll/script?kind=all&alias="+url.QueryEscape(`"; rm -rf / #`), bearer(op), nil)
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.Len(t, r.body["scripts"], 4)
	assert.Len(t, r.body["exit_codes"], 10)
	assert.Equal(t, e.buildID, r.body["build"].(map[string]any)["id"])
	expires, err := time.Parse(time.RFC3339Nano, r.body["key_expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(24*time.Hour), expires, time.Minute)

	keyID := r.body["key_id"].(string)
	keys := e.do("GET", "/admin/keys", adminKeyHeader, nil).body["api_keys"].([]any)
	var minted map[string]any
	for _, k := range keys {
		if k.(map[string]any)["id"] == keyID {
			minted = k.(map[string]any)
		}
	}
	require.NotNil(t, minted, "the minted key is listed, so it can be revoked")
	assert.Equal(t, []any{"enroll"}, minted["scopes"])
	assert.Equal(t, `enroll script: "; rm -rf / #`, minted["name"])

	audit := e.do("GET", "/admin/audit?action=enroll.script", adminKeyHeader, nil)
	require.Equal(t, 200, audit.status, "%v", audit.body)
	entries := audit.body["entries"].([]any)
	require.Len(t, entries, 3)
	assert.Equal(t, "user:op", entries[0].(map[string]any)["actor"])
	assert.NotContains(t, mustJSON(t, entries), "nxk_", "the audit log never holds the key")

	status, _, body = e.getScript("/admin/enroll/script?kind=sh-oneliner&alias=x", adminKeyHeader)
	require.Equal(t, 200, status, body)
	key := strings.Split(strings.Split(body, "X-Admin-Key: ")[1], "'")[0]
	status, _, full := e.getScript("/v1/enroll/script?kind=sh&alias_b64=eA", map[string]string{"X-Admin-Key": key})
	require.Equal(t, 200, status, full)
	assert.Contains(t, full, "ENROLL_KEY='"+key+"'", "the fetched script holds the key it was fetched with")
	assert.Contains(t, full, "ALIAS='x'")
}

// Without an uploaded agent build there is nothing to install: a clear 409.
func TestNoAgentBuildMeansNoScript(t *testing.T) {
	a := newAPKEnv(t, 0)
	r := a.do("GET", "/admin/enroll/script?kind=sh&alias=x", adminKeyHeader, nil)
	assert.Equal(t, 409, r.status)
	assert.Equal(t, "no_agent_build", r.code)
	assert.Contains(t, r.body["message"], "upload one under APK builds")
}
