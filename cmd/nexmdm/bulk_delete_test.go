package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// deleteFleet is a server with enrolled devices that have history.
type deleteFleet struct {
	api
	client *client.Client
	regs   []*client.Registration
	db     *testenv.DB
}

func newDeleteFleet(t *testing.T, n int) deleteFleet {
	e, db, _ := newTestEnv(t)
	e["NEXMDM_PURGE_EVERY"] = "1h" // jobs start when kicked; the tick is not needed
	startInProcess(t, e)
	cl := newClient(e.url())
	return deleteFleet{api: api{t: t, base: e.url()}, client: cl, regs: enrollFleet(t, cl, "del", n), db: db}
}

// history gives each device heartbeats today and a day and a half ago, in
// two partitions.
func (f deleteFleet) history() {
	f.t.Helper()
	for _, r := range f.regs {
		for _, ts := range []time.Time{time.Now().Add(-36 * time.Hour), time.Now()} {
			_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(ts, 50))
			require.NoError(f.t, err)
		}
	}
}

func (f deleteFleet) ids(from, to int) []string {
	var out []string
	for _, r := range f.regs[from:to] {
		out = append(out, r.DeviceID)
	}
	return out
}

func (f deleteFleet) selection(headers map[string]string, ids []string) (string, string) {
	f.t.Helper()
	r := f.do("POST", "/admin/devices/selection", headers, map[string]any{"device_ids": ids})
	require.Equal(f.t, 201, r.status, "%v", r.body)
	return r.body["selection_id"].(string), r.body["confirm"].(string)
}

func (f deleteFleet) awaitJob(id string) map[string]any {
	f.t.Helper()
	var job map[string]any
	require.Eventually(f.t, func() bool {
		job = f.do("GET", "/admin/jobs/"+id, adminKeyHeader, nil).body
		return job["status"] == "succeeded" || job["status"] == "failed"
	}, 30*time.Second, 50*time.Millisecond, "job %s never finished", id)
	return job
}

func (f deleteFleet) rows(ids []string) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM heartbeats WHERE device_id::text = ANY($1)`, ids).Scan(&n))
	return n
}

func TestBulkDeleteRemovesTheSelectionAndPurgesItsHistory(t *testing.T) {
	f := newDeleteFleet(t, 30)
	f.history()
	gone, kept := f.ids(0, 20), f.ids(20, 30)
	sel, confirm := f.selection(adminKeyHeader, gone)
	assert.Equal(t, "DELETE 20", confirm)

	r := f.do("POST", "/admin/devices/bulk-delete", adminKeyHeader, map[string]any{"selection_id": sel, "confirm": confirm, "purge_history": true})
	require.Equal(t, 202, r.status, "%v", r.body)
	job := f.awaitJob(r.body["job_id"].(string))
	assert.Equal(t, "succeeded", job["status"])
	assert.EqualValues(t, 20, job["deleted"])
	assert.EqualValues(t, 40, job["rows_purged"], "two heartbeats of each deleted device")
	assert.GreaterOrEqual(t, len(job["partitions_purged"].([]any)), 2)

	assert.Zero(t, f.rows(gone), "their history is purged")
	assert.Equal(t, 20, f.rows(kept), "the others' history is untouched")
	for _, id := range gone {
		assert.Equal(t, 404, f.do("GET", "/admin/devices/"+id, adminKeyHeader, nil).status)
	}
	_, err := f.client.Heartbeat(context.Background(), f.regs[0].DeviceToken, fullHeartbeat(time.Now(), 50))
	assert.ErrorIs(t, err, client.ErrGone, "a deleted device's token is revoked")
	audit := f.do("GET", "/admin/audit?action=device.bulk_delete", adminKeyHeader, nil)
	assert.Len(t, audit.body["entries"], 1)
}

func TestBulkDeleteRefusesWhatWasNotConfirmed(t *testing.T) {
	f := newDeleteFleet(t, 3)
	del := func(headers map[string]string, body map[string]any) answer {
		return f.do("POST", "/admin/devices/bulk-delete", headers, body)
	}
	sel, _ := f.selection(adminKeyHeader, f.ids(0, 2))
	r := del(adminKeyHeader, map[string]any{"selection_id": sel, "confirm": "DELETE 3"})
	assert.Equal(t, "confirm_mismatch", r.code)
	assert.Contains(t, r.body["message"], `"DELETE 2"`, "the message says what to type")

	r = del(adminKeyHeader, map[string]any{"selection_id": "00000000-0000-0000-0000-000000000001", "confirm": "DELETE 2"})
	assert.Equal(t, "selection_not_found", r.code)
	_, err := f.db.Pool.Exec(context.Background(), `UPDATE device_selections SET expires_at = now() - interval '1 second' WHERE id = $1`, sel)
	require.NoError(t, err)
	assert.Equal(t, "selection_not_found", del(adminKeyHeader, map[string]any{"selection_id": sel, "confirm": "DELETE 2"}).code, "expired")

	tok, _ := f.login("other-admin", f.addUser("other-admin", "admin"))
	sel, confirm := f.selection(bearer(tok), f.ids(0, 2))
	assert.Equal(t, "selection_foreign", del(adminKeyHeader, map[string]any{"selection_id": sel, "confirm": confirm}).code,
		"one admin cannot confirm another's selection")
	opTok, _ := f.login("op", f.addUser("op", "operator"))
	assert.Equal(t, 403, del(bearer(opTok), map[string]any{"selection_id": sel, "confirm": confirm}).status, "operators cannot delete")

	for i := range 10 {
		sel, confirm := f.selection(adminKeyHeader, f.ids(2, 3))
		require.Equal(t, 202, del(adminKeyHeader, map[string]any{"selection_id": sel, "confirm": confirm}).status, "operation %d", i+1)
	}
	sel, confirm = f.selection(adminKeyHeader, f.ids(2, 3))
	r = del(adminKeyHeader, map[string]any{"selection_id": sel, "confirm": confirm})
	assert.Equal(t, 429, r.status, "the 11th in a minute")
	assert.Equal(t, "rate_limited", r.code)
	assert.Equal(t, 3, len(f.ids(0, 3)), "nothing else changed")
	assert.Equal(t, 200, f.do("GET", "/admin/devices/"+f.regs[0].DeviceID, adminKeyHeader, nil).status, "refused deletes deleted nothing")
}

func TestBulkDeleteRacingHeartbeatsWritesNothingAfterItCommits(t *testing.T) {
	f := newDeleteFleet(t, 20)
	ids := f.ids(0, 20)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now().Add(-6 * time.Hour)
	for _, r := range f.regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(start.Add(time.Duration(i)*10*time.Second), 50))
				if errors.Is(err, client.ErrGone) {
					return
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	sel, confirm := f.selection(adminKeyHeader, ids)
	r := f.do("POST", "/admin/devices/bulk-delete", adminKeyHeader, map[string]any{"selection_id": sel, "confirm": confirm})
	require.Equal(t, 202, r.status, "%v", r.body)
	job := f.awaitJob(r.body["job_id"].(string))
	require.Equal(t, "succeeded", job["status"])
	after := f.rows(ids)
	require.Positive(t, after, "history is kept without purge_history")
	time.Sleep(time.Second) // the heartbeat loops keep trying until their 410
	close(stop)
	wg.Wait()
	assert.Equal(t, after, f.rows(ids), "no row for a deleted device is written after the delete")
}
