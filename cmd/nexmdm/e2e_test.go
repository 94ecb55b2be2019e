package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

func fullHeartbeat(ts time.Time, battery int) *client.Heartbeat {
	return &client.Heartbeat{
		TS: ts, BatteryPct: new(battery), Charging: new(false), RAMUsedMB: new(1800), RAMTotalMB: new(3900),
		UptimeS: new(int64(86400)), NetType: "wifi", SSID: "store-42", SignalDBm: new(-58),
		AgentVersion: "1.2.0", AgentVersionCode: new(120), ForegroundPkg: "com.example.kiosk",
		AppLastForeground: map[string]int64{"com.example.kiosk": ts.UnixMilli()},
		PowerOK:           new(true), DozeWhitelisted: new(true), NetValidated: new(true), QueueDepth: new(0),
	}
}

func TestRegisterThenHeartbeatLandsInItsDailyPartition(t *testing.T) {
	e, db, _ := newTestEnv(t)
	startInProcess(t, e)
	c := newClient(e.url())
	ctx := context.Background()

	reg, err := c.Register(ctx, defaultAdminKey, client.RegisterRequest{
		Alias: "Front desk", Serial: "R58M123", Model: "SM-T500", Manufacturer: "samsung",
		AndroidVersion: "13", SDKInt: 33, AgentVersion: "1.2.0", AgentVersionCode: 120,
	})
	require.NoError(t, err)
	assert.NotEmpty(t, reg.HMACKey)
	assert.Equal(t, "dev1", reg.HMACKeyID)
	assert.Equal(t, 300, reg.HeartbeatIntervalS)

	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday, today := midnight.Add(-5*time.Second), midnight.Add(5*time.Second)
	for _, ts := range []time.Time{yesterday, today} {
		resp, err := c.Heartbeat(ctx, reg.DeviceToken, fullHeartbeat(ts, 64))
		require.NoError(t, err)
		assert.False(t, resp.Deduped)
		assert.Equal(t, []string{}, rawCommands(resp))
	}

	rows, err := db.Pool.Query(ctx, `SELECT tableoid::regclass::text, ts FROM heartbeats WHERE device_id = $1 ORDER BY ts`, reg.DeviceID)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var table string
		var ts time.Time
		require.NoError(t, rows.Scan(&table, &ts))
		got = append(got, table)
	}
	assert.Equal(t, []string{pgstore.PartitionName(yesterday), pgstore.PartitionName(today)}, got)

	var battery, signal int
	var ssid, appFg string
	var ts time.Time
	require.NoError(t, db.Pool.QueryRow(ctx, `
		SELECT battery_pct, signal_dbm, ssid, app_last_foreground::text, ts
		FROM device_last_status WHERE device_id = $1`, reg.DeviceID).Scan(&battery, &signal, &ssid, &appFg, &ts))
	assert.Equal(t, 64, battery)
	assert.Equal(t, -58, signal)
	assert.Equal(t, "store-42", ssid)
	assert.JSONEq(t, fmt.Sprintf(`{"com.example.kiosk": %d}`, today.UnixMilli()), appFg)
	assert.True(t, ts.Equal(today), "device_last_status holds the newest heartbeat")
}

func rawCommands(r *client.HeartbeatResponse) []string {
	out := []string{}
	for _, c := range r.Commands {
		out = append(out, string(c))
	}
	return out
}

func TestDedupeAndBacklogThroughTheAPI(t *testing.T) {
	e, db, _ := newTestEnv(t)
	startInProcess(t, e)
	c := newClient(e.url())
	ctx := context.Background()
	reg := enrollFleet(t, c, "dd", 1)[0]
	bucket := persistence.BucketStart(persistence.Bucket(time.Now()))

	first, err := c.Heartbeat(ctx, reg.DeviceToken, fullHeartbeat(bucket.Add(2*time.Second), 50))
	require.NoError(t, err)
	assert.False(t, first.Deduped)
	again, err := c.Heartbeat(ctx, reg.DeviceToken, fullHeartbeat(bucket.Add(8*time.Second), 49))
	require.NoError(t, err)
	assert.True(t, again.Deduped, "same 10 s bucket")
	for i := 1; i <= 5; i++ { // an offline backlog, replayed oldest last
		r, err := c.Heartbeat(ctx, reg.DeviceToken, fullHeartbeat(bucket.Add(-time.Duration(i)*time.Minute), 60))
		require.NoError(t, err)
		assert.False(t, r.Deduped)
	}
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM heartbeats WHERE device_id = $1`, reg.DeviceID).Scan(&n))
	assert.Equal(t, 6, n)
	var battery int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT battery_pct FROM device_last_status WHERE device_id = $1`, reg.DeviceID).Scan(&battery))
	assert.Equal(t, 50, battery, "the backlog does not overwrite the newest status")
}

func TestBadInputGetsStableErrorsAndWritesNothing(t *testing.T) {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_MAX_BODY_BYTES"] = "2048"
	startInProcess(t, e)
	c := newClient(e.url())
	ctx := context.Background()
	regs := enrollFleet(t, c, "bad", 3)
	good, revoked, deleted := regs[0], regs[1], regs[2]
	// Re-enrolling a serial revokes its token.
	_, err := c.Register(ctx, defaultAdminKey, client.RegisterRequest{Alias: "bad 1", Serial: "bad-1"})
	require.NoError(t, err)
	// Delete a device that is live (its actor exists) under it.
	_, err = c.Heartbeat(ctx, deleted.DeviceToken, fullHeartbeat(time.Now().Add(-time.Hour), 10))
	require.NoError(t, err)
	req, _ := http.NewRequest("DELETE", e.url()+"/admin/devices/"+deleted.DeviceID, nil)
	req.Header.Set("X-Admin-Key", defaultAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	var before int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM heartbeats`).Scan(&before))
	now := time.Now().UTC().Format(time.RFC3339)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	admin := map[string]string{"X-Admin-Key": defaultAdminKey}
	cases := []struct {
		name    string
		path    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"malformed JSON", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts": "` + now, 400, "malformed_json"},
		{"not an object", "/v1/heartbeat", bearer(good.DeviceToken), `[1,2]`, 400, "malformed_json"},
		{"missing ts", "/v1/heartbeat", bearer(good.DeviceToken), `{"battery_pct": 5}`, 400, "missing_field"},
		{"wrong type", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"` + now + `","battery_pct":"full"}`, 400, "invalid_field"},
		{"battery 150", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"` + now + `","battery_pct":150}`, 400, "invalid_field"},
		{"unknown net type", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"` + now + `","net_type":"5g"}`, 400, "invalid_field"},
		{"NUL in a string", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"` + now + `","ssid":"a\u0000b"}`, 400, "invalid_field"},
		{"ts far in the future", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"2999-01-01T00:00:00Z"}`, 400, "ts_out_of_range"},
		{"ts before retention", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"2001-01-01T00:00:00Z"}`, 400, "ts_out_of_range"},
		{"body over the limit", "/v1/heartbeat", bearer(good.DeviceToken), `{"ts":"` + now + `","ssid":"` + strings.Repeat("x", 4096) + `"}`, 413, "body_too_large"},
		{"missing token", "/v1/heartbeat", nil, `{"ts":"` + now + `"}`, 401, "invalid_token"},
		{"garbage token", "/v1/heartbeat", bearer("garbage"), `{"ts":"` + now + `"}`, 401, "invalid_token"},
		{"wrong secret", "/v1/heartbeat", bearer(good.DeviceID + "." + strings.Repeat("A", 43)), `{"ts":"` + now + `"}`, 401, "invalid_token"},
		{"unknown device", "/v1/heartbeat", bearer(uuid.NewString() + "." + strings.Repeat("A", 43)), `{"ts":"` + now + `"}`, 401, "unknown_device"},
		{"revoked token", "/v1/heartbeat", bearer(revoked.DeviceToken), `{"ts":"` + now + `"}`, 410, "token_revoked"},
		{"deleted device", "/v1/heartbeat", bearer(deleted.DeviceToken), `{"ts":"` + now + `"}`, 410, "device_deleted"},
		{"register: bad admin key", "/v1/register", map[string]string{"X-Admin-Key": "nope"}, `{"alias":"x","serial":"y"}`, 401, "invalid_admin_key"},
		{"register: empty alias", "/v1/register", admin, `{"alias":"  ","serial":"y"}`, 400, "missing_field"},
		{"register: wrong type", "/v1/register", admin, `{"alias":"x","serial":"y","sdk_int":"33"}`, 400, "invalid_field"},
		{"register: malformed", "/v1/register", admin, `{"alias":`, 400, "malformed_json"},
		{"unknown route", "/v1/nothing", nil, `{}`, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, _ := rawPost(t, e.url()+tc.path, tc.headers, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, code)
		})
	}
	var after, devices int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM heartbeats`).Scan(&after))
	assert.Equal(t, before, after, "no bad request wrote a row")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM devices`).Scan(&devices))
	assert.Equal(t, 2, devices, "no bad registration created a device")

	_, err = c.Heartbeat(ctx, revoked.DeviceToken, fullHeartbeat(time.Now(), 1))
	assert.ErrorIs(t, err, client.ErrGone, "the client maps 410 to a typed error")
	_, err = c.Heartbeat(ctx, "garbage", fullHeartbeat(time.Now(), 1))
	assert.ErrorIs(t, err, client.ErrUnauthorized)
}

func TestRepeatedBadAdminKeysAreThrottled(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	var last int
	var header http.Header
	for range 21 {
		last, _, header = rawPost(t, e.url()+"/v1/register", map[string]string{"X-Admin-Key": "guess"}, `{"alias":"x","serial":"y"}`)
	}
	assert.Equal(t, 429, last)
	assert.NotEmpty(t, header.Get("Retry-After"))
}

func TestStartCreatesSevenDaysOfPartitionsAhead(t *testing.T) {
	e, db, _ := newTestEnv(t)
	startInProcess(t, e)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for d := 0; d <= partitionsAhead; d++ {
		name := pgstore.PartitionName(today.Add(time.Duration(d) * 24 * time.Hour))
		var exists bool
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
		assert.True(t, exists, "partition %s", name)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.url() + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, path)
	}
	c := newClient(e.url())
	reg := enrollFleet(t, c, "m", 1)[0]
	_, err := c.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now(), 5))
	require.NoError(t, err)

	resp, err := http.Get(e.url() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{
		`nexmdm_http_request_duration_seconds_bucket{code="200",method="POST",route="/v1/heartbeat"`,
		`nexmdm_heartbeats_total{result="stored"} 1`,
		`nexmdm_writer_batch_rows_bucket`, `nexmdm_writer_commit_duration_seconds_bucket`,
		`nexmdm_writer_queue_depth`, `nexmdm_device_actors_live 1`, `nexmdm_devices_online 1`,
		`nexmdm_pgxpool_acquired_conns`, `nexmdm_pgxpool_total_conns`,
	} {
		assert.Contains(t, string(body), name)
	}
}

func TestProductionRefusesDefaultSecrets(t *testing.T) {
	_, err := loadConfig(env{"NEXMDM_ENV": "production"}.get)
	require.Error(t, err)
	for _, name := range []string{"NEXMDM_ADMIN_KEY", "NEXMDM_JWT_SECRET", "NEXMDM_TOKEN_PEPPER", "NEXMDM_HMAC_MASTER_KEYS"} {
		assert.Contains(t, err.Error(), name)
	}

	strong := env{
		"NEXMDM_ENV": "production", "NEXMDM_ADMIN_KEY": strings.Repeat("a", 32),
		"NEXMDM_JWT_SECRET": strings.Repeat("b", 32), "NEXMDM_TOKEN_PEPPER": strings.Repeat("c", 32),
		"NEXMDM_HMAC_MASTER_KEYS": "k1:" + strings.Repeat("QUJD", 11),
	}
	_, err = loadConfig(strong.get)
	assert.NoError(t, err)

	strong["NEXMDM_BCRYPT_COST"] = "4"
	_, err = loadConfig(strong.get)
	assert.ErrorContains(t, err, "NEXMDM_BCRYPT_COST")

	_, err = loadConfig(env{"NEXMDM_OFFLINE_AFTER": "soon"}.get)
	assert.ErrorContains(t, err, "NEXMDM_OFFLINE_AFTER")
}

// ack is a heartbeat the server answered 200.
type ack struct {
	device string
	bucket time.Time
}

// loadUntilStopped sends heartbeats from every device, each in a new
// bucket, until a request fails; it returns what the server acknowledged.
func loadUntilStopped(c *client.Client, regs []*client.Registration, start time.Time) []ack {
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	for _, r := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ts := start.Add(time.Duration(i) * persistence.BucketWidth)
				if _, err := c.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(ts, 50)); err != nil {
					return
				}
				mu.Lock()
				acks = append(acks, ack{r.DeviceID, persistence.BucketStart(persistence.Bucket(ts))})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acks
}

func TestKillNineAfterAcknowledgementLosesNothing(t *testing.T) {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_DEVICE_RATE"] = "0"
	p := startProcess(t, e)
	c := newClient(e.url())
	regs := enrollFleet(t, c, "k9", 16)
	start := time.Now().Add(-12 * time.Hour)

	done := make(chan []ack)
	go func() { done <- loadUntilStopped(c, regs, start) }()
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, p.cmd.Process.Kill())
	p.cmd.Wait()
	acks := <-done
	require.NotEmpty(t, acks)

	ctx := context.Background()
	missing := 0
	for _, a := range acks {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx,
			`SELECT count(*) FROM heartbeats WHERE device_id = $1 AND bucket_start = $2`, a.device, a.bucket).Scan(&n))
		if n != 1 {
			missing++
		}
	}
	assert.Zero(t, missing, "of %d acknowledged heartbeats, %d are not in Postgres", len(acks), missing)
	t.Logf("%d heartbeats acknowledged before kill -9; all stored", len(acks))

	// The restarted server resumes each device where Postgres says it was.
	startProcess(t, e)
	last := map[string]time.Time{}
	for _, a := range acks {
		if a.bucket.After(last[a.device]) {
			last[a.device] = a.bucket
		}
	}
	for _, r := range regs {
		ts, ok := last[r.DeviceID]
		if !ok {
			continue
		}
		resp, err := c.Heartbeat(ctx, r.DeviceToken, fullHeartbeat(ts.Add(3*time.Second), 50))
		require.NoError(t, err)
		assert.True(t, resp.Deduped, "the newest acknowledged bucket of %s is known after the crash", r.DeviceID)
	}
}

func TestSigtermDrainsInflightHeartbeatsAndSnapshots(t *testing.T) {
	e, db, rds := newTestEnv(t)
	e["NEXMDM_DEVICE_RATE"] = "0"
	p := startProcess(t, e)
	c := newClient(e.url())
	regs := enrollFleet(t, c, "term", 16)

	done := make(chan []ack)
	go func() { done <- loadUntilStopped(c, regs, time.Now().Add(-6*time.Hour)) }()
	time.Sleep(time.Second)
	assert.Equal(t, 0, p.signal(t, syscall.SIGTERM), "graceful shutdown exits 0\n%s", p.out.String())
	acks := <-done

	ctx := context.Background()
	var stored int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM heartbeats`).Scan(&stored))
	assert.GreaterOrEqual(t, stored, len(acks), "every acknowledged heartbeat is stored")
	keys := rds.Keys(t)
	for _, r := range regs {
		assert.Contains(t, keys, "dev:"+r.DeviceID, "shutdown snapshots every device to Redis")
	}
	_, err := c.Heartbeat(ctx, regs[0].DeviceToken, fullHeartbeat(time.Now(), 1))
	var netErr interface{ Timeout() bool }
	assert.True(t, err != nil && (errors.As(err, &netErr) || strings.Contains(err.Error(), "connection refused")),
		"the server no longer listens: %v", err)
}
