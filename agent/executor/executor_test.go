package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shell records the command lines an Android set runs: there is no device
// here, so the test checks that each command becomes the right tool call.
type shell struct {
	calls  []string
	answer map[string]string // command line -> output
	fail   map[string]bool
}

func (s *shell) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	s.calls = append(s.calls, line)
	if s.fail[line] {
		return []byte("Error: boom"), errors.New("exit status 1")
	}
	return []byte(s.answer[line]), nil
}

func noHooks() Hooks {
	return Hooks{SetConfig: func(Params) (string, error) { return "", nil }, CheckUpdate: func() {}}
}

func TestAndroidPackageCommandsBecomeTheirTools(t *testing.T) {
	cases := map[string]string{
		"stop_app":        "am force-stop com.example.kiosk",
		"clear_app_data":  "pm clear com.example.kiosk",
		"disable_package": "pm disable-user --user 0 com.example.kiosk",
		"enable_package":  "pm enable com.example.kiosk",
		"uninstall_app":   "pm uninstall com.example.kiosk",
	}
	for typ, want := range cases {
		sh := &shell{}
		_, err := Android(sh, noHooks(), Options{}).Run(context.Background(), typ, `{"package":"com.example.kiosk"}`)
		require.NoError(t, err, typ)
		assert.Equal(t, []string{want}, sh.calls, typ)
	}
}

func TestLaunchResolvesTheLauncherActivity(t *testing.T) {
	sh := &shell{answer: map[string]string{
		"cmd package resolve-activity --brief -c android.intent.category.LAUNCHER com.example.kiosk": "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\ncom.example.kiosk/.MainActivity\n",
	}}
	out, err := Android(sh, noHooks(), Options{}).Run(context.Background(), "launch_app", `{"package":"com.example.kiosk"}`)
	require.NoError(t, err)
	assert.Equal(t, "am start -n com.example.kiosk/.MainActivity", sh.calls[1])
	assert.Equal(t, "launched com.example.kiosk/.MainActivity", out.Message)

	sh = &shell{answer: map[string]string{
		"cmd package resolve-activity --brief -c android.intent.category.LAUNCHER com.example.gone": "No activity found\n",
	}}
	_, err = Android(sh, noHooks(), Options{}).Run(context.Background(), "launch_app", `{"package":"com.example.gone"}`)
	assert.ErrorContains(t, err, "has no launcher activity")
}

func TestAFailingToolFailsTheCommandWithItsOutput(t *testing.T) {
	sh := &shell{fail: map[string]bool{"pm clear com.example.kiosk": true}}
	out, err := Android(sh, noHooks(), Options{}).Run(context.Background(), "clear_app_data", `{"package":"com.example.kiosk"}`)
	assert.Error(t, err)
	assert.Equal(t, "Error: boom", out.Output)
}

func TestAPackageThatIsNoPackageNeverReachesAShell(t *testing.T) {
	sh := &shell{}
	_, err := Android(sh, noHooks(), Options{}).Run(context.Background(), "stop_app", `{"package":"x; reboot"}`)
	assert.ErrorContains(t, err, "not an Android package name")
	assert.Empty(t, sh.calls)
}

func TestRebootHappensOnlyAfterTheResultIsQueued(t *testing.T) {
	sh := &shell{}
	out, err := Android(sh, noHooks(), Options{}).Run(context.Background(), "reboot", "")
	require.NoError(t, err)
	assert.Empty(t, sh.calls, "nothing ran yet")
	require.NotNil(t, out.Then)
	out.Then()
	assert.Equal(t, []string{"svc power reboot nexmdm"}, sh.calls)
}

func TestLinuxRunsOnlyTheSafeSet(t *testing.T) {
	set := Linux(ExecRunner{Timeout: 5 * time.Second}, noHooks(), Options{})
	out, err := set.Run(context.Background(), "ping", "")
	require.NoError(t, err)
	assert.Equal(t, "pong", out.Message)
	for _, typ := range []string{"reboot", "uninstall_app", "shell"} {
		_, err := set.Run(context.Background(), typ, "")
		assert.ErrorContains(t, err, "does not run", typ)
	}
}

func TestShellRunsOnlyWhenAllowedAndIsBounded(t *testing.T) {
	set := Linux(ExecRunner{Timeout: 5 * time.Second}, noHooks(), Options{AllowShell: true})
	out, err := set.Run(context.Background(), "shell", `{"cmd":"echo hello; echo err >&2"}`)
	require.NoError(t, err)
	assert.Equal(t, "hello\nerr\n", out.Output)

	out, err = set.Run(context.Background(), "shell", `{"cmd":"head -c 100000 /dev/zero | tr '\\0' x"}`)
	require.NoError(t, err)
	assert.Len(t, out.Output, MaxOutput, "output is cut to what the server stores")

	_, err = set.Run(context.Background(), "shell", `{"cmd":"exit 3"}`)
	assert.ErrorContains(t, err, "exit status 3")
}

func TestSetConfigAndCheckUpdateReachTheAgent(t *testing.T) {
	var got Params
	checked := false
	h := Hooks{
		SetConfig:   func(p Params) (string, error) { got = p; return "heartbeat every 120 s", nil },
		CheckUpdate: func() { checked = true },
	}
	set := Linux(ExecRunner{}, h, Options{})
	out, err := set.Run(context.Background(), "set_config", `{"heartbeat_interval_s":120}`)
	require.NoError(t, err)
	assert.Equal(t, "heartbeat every 120 s", out.Message)
	assert.Equal(t, float64(120), got["heartbeat_interval_s"])

	out, err = set.Run(context.Background(), "check_update", "{}")
	require.NoError(t, err)
	out.Then()
	assert.True(t, checked)

	_, err = set.Run(context.Background(), "ping", "[1]")
	assert.ErrorContains(t, err, "not a JSON object")
}

func TestInstallAPKTakesTheSignedURLAndHash(t *testing.T) {
	var got []string
	h := noHooks()
	h.InstallAPK = func(_ context.Context, url, sha string, size int64) error {
		got = append(got, url, sha)
		return nil
	}
	set := Android(&shell{}, h, Options{})
	sha := strings.Repeat("ab", 32)
	out, err := set.Run(context.Background(), "install_apk",
		`{"build_id":"b1","package":"com.example.kiosk","sha256":"`+sha+`","size":10,"url":"/v1/agent/download/b1","version_code":7}`)
	require.NoError(t, err)
	assert.Equal(t, []string{"/v1/agent/download/b1", sha}, got)
	assert.Equal(t, "installed com.example.kiosk version 7", out.Message)

	_, err = set.Run(context.Background(), "install_apk", `{"build_id":"b1"}`)
	assert.ErrorContains(t, err, "needs the url and sha256")
	_, err = set.Run(context.Background(), "install_apk", `{"url":"https://evil.example/x.apk","sha256":"`+sha+`"}`)
	assert.Error(t, err, "only the server's own download route")
}
