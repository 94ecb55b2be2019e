package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/daemon"
	"github.com/nexmdm/nexmdm/agent/ota"
)

func TestAgentInstallsAReleaseFromTheRegistryAndReportsEachStep(t *testing.T) {
	a := newAPKEnv(t, 0)
	file := apkFixture(t, 300_000, true)
	build := a.registered("com.nexmdm.agent", 42, file)
	require.Equal(t, 200, a.upload(adminKeyHeader, build, file, false, false).status)
	r := a.do("POST", "/admin/releases", adminKeyHeader, map[string]any{"build_id": build, "rollout_percent": 100})
	require.Equal(t, 201, r.status, "%v", r.body)
	rel := r.body["id"].(string)
	require.Equal(t, 200, a.do("POST", "/admin/releases/"+rel+"/promote", adminKeyHeader, nil).status)

	exe := filepath.Join(t.TempDir(), "nexmdm-agent")
	require.NoError(t, os.WriteFile(exe, []byte("the running version"), 0o755))
	ag := startInProcessAgent(t, a.base, func(d *daemon.Deps) { d.Platform = ota.Linux{Executable: exe} })

	select {
	case err := <-ag.exited:
		require.ErrorIs(t, err, daemon.ErrRestart, "after installing, the agent restarts into the new binary\n%s", ag.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent never installed the release\n%s", ag.logs)
	}
	got, err := os.ReadFile(exe)
	require.NoError(t, err)
	assert.Equal(t, file, got, "the binary is the uploaded build, byte for byte")

	rows, err := a.db.Pool.Query(context.Background(), `SELECT event FROM update_events WHERE release_id = $1 ORDER BY id`, rel)
	require.NoError(t, err)
	var events []string
	for rows.Next() {
		var ev string
		require.NoError(t, rows.Scan(&ev))
		events = append(events, ev)
	}
	assert.Equal(t, []string{"offered", "download_started", "downloaded", "verified", "installing", "installed"}, events)
	assert.Equal(t, []string{fmt.Sprintf("device %s 0 %d", ag.DeviceID(), len(file))}, a.downloads(build),
		"one whole download, recorded as the device's")
	adoption := a.do("GET", "/admin/releases/"+rel+"/adoption", adminKeyHeader, nil).body
	assert.Equal(t, map[string]any{"installed": float64(1)}, adoption["states"])
}
