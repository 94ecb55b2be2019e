package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// alertDevices enrolls n bare devices, for the alerts' foreign key.
func alertDevices(t testing.TB, db *testenv.DB, n int) []uuid.UUID {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `INSERT INTO devices (id, alias, serial, token_bcrypt, token_digest, token_pepper_id, hmac_key_id)
		SELECT gen_random_uuid(), 'd' || i, 's' || i, 'x', '\x00', 'p', 'k' FROM generate_series(1, $1) AS i RETURNING id`, n)
	require.NoError(t, err)
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

func fire(d *uuid.UUID, rule string, at time.Time, details map[string]any) pgstore.AlertChange {
	return pgstore.AlertChange{ID: uuid.New(), DeviceID: d, Rule: rule, Severity: "warning", Fired: true, Notified: true, At: at, Details: details}
}

func resolve(d *uuid.UUID, rule string, at time.Time) pgstore.AlertChange {
	return pgstore.AlertChange{DeviceID: d, Rule: rule, At: at}
}

func TestAlertChangesApplyInOrderAndOnlyWhereTheyChangeSomething(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	ids := alertDevices(t, db, 2)
	a, b := &ids[0], &ids[1]
	store := pgstore.NewAlerts(db.Pool)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	rows, err := store.Apply(ctx, []pgstore.AlertChange{
		fire(a, "offline", t0, map[string]any{"last_seen": "09:48"}),
		fire(b, "offline", t0, nil),
		fire(a, "offline", t0.Add(time.Second), nil), // already open: nothing
		resolve(b, "low_battery", t0),                // nothing open: nothing
	})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	byDevice := map[uuid.UUID]pgstore.AlertRecord{*rows[0].DeviceID: rows[0], *rows[1].DeviceID: rows[1]}
	assert.Equal(t, map[string]any{"last_seen": "09:48"}, byDevice[*a].Details)
	assert.Equal(t, map[string]any{}, byDevice[*b].Details, "no details are an empty object")
	assert.Equal(t, t0, byDevice[*a].FiredAt.UTC(), "the first firing is the one kept")
	assert.Nil(t, byDevice[*a].ResolvedAt)

	// A batch that resolves, fires again and resolves again ends with two
	// closed alerts: runs keep their order.
	t1 := t0.Add(time.Minute)
	_, err = db.Pool.Exec(ctx, `UPDATE alerts SET remediation_attempts = 1 WHERE device_id = $1`, *a)
	require.NoError(t, err)
	rows, err = store.Apply(ctx, []pgstore.AlertChange{
		resolve(a, "offline", t1),
		resolve(a, "offline", t1.Add(time.Second)), // closed already: nothing
		fire(a, "offline", t1.Add(2*time.Second), nil),
		resolve(a, "offline", t1.Add(3*time.Second)),
	})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.NotNil(t, rows[0].ResolvedAt)
	assert.Equal(t, t1, rows[0].ResolvedAt.UTC(), "the first resolution closes it")
	require.NotNil(t, rows[0].Remediated)
	assert.True(t, *rows[0].Remediated, "it recovered after a remediation")
	assert.Nil(t, rows[1].ResolvedAt, "then it fired again")
	require.NotNil(t, rows[2].ResolvedAt)
	assert.Equal(t, rows[1].ID, rows[2].ID, "and that alert closed")

	var open, closed int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE resolved_at IS NULL),
		count(*) FILTER (WHERE resolved_at IS NOT NULL) FROM alerts`).Scan(&open, &closed))
	assert.Equal(t, 1, open, "only b's alert is open")
	assert.Equal(t, 2, closed)
}

// A site back from an outage resolves every device's offline alert in one
// flush; more changes than one statement takes all apply.
func TestAnOutagesWorthOfAlertChangesAppliesInOneCall(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	const n = 6000
	ids := alertDevices(t, db, n)
	store := pgstore.NewAlerts(db.Pool)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	changes := make([]pgstore.AlertChange, n)
	for i := range ids {
		changes[i] = fire(&ids[i], "offline", t0, map[string]any{"i": i})
	}
	rows, err := store.Apply(ctx, changes)
	require.NoError(t, err)
	assert.Len(t, rows, n)

	for i := range ids {
		changes[i] = resolve(&ids[i], "offline", t0.Add(time.Hour))
	}
	rows, err = store.Apply(ctx, changes)
	require.NoError(t, err)
	require.Len(t, rows, n)
	for _, r := range rows {
		require.NotNil(t, r.ResolvedAt)
		assert.Len(t, r.Details, 1, "a resolution returns the alert with its details")
	}
	var open int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM alerts WHERE resolved_at IS NULL`).Scan(&open))
	assert.Zero(t, open)
}

// An outage's worth of offline alerts firing and then resolving, as one
// flush each: go test -run XXX -bench AlertsOutage ./persistence/pgstore
func BenchmarkAlertsOutage(b *testing.B) {
	db := testenv.Postgres(b)
	ctx := context.Background()
	const n = 20000
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	_, err := db.Pool.Exec(ctx, `INSERT INTO devices (id, alias, serial, token_bcrypt, token_digest, token_pepper_id, hmac_key_id)
		SELECT id, 'd', id::text, 'x', '\x00', 'p', 'k' FROM unnest($1::uuid[]) AS id`, ids)
	require.NoError(b, err)
	store := pgstore.NewAlerts(db.Pool)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	fired, resolved := make([]pgstore.AlertChange, n), make([]pgstore.AlertChange, n)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ids {
			fired[i] = fire(&ids[i], "offline", at, map[string]any{"last_seen": at.Format(time.RFC3339)})
			resolved[i] = resolve(&ids[i], "offline", at.Add(time.Minute))
		}
		for _, batch := range [][]pgstore.AlertChange{fired, resolved} {
			rows, err := store.Apply(ctx, batch)
			require.NoError(b, err)
			require.Len(b, rows, n)
		}
		at = at.Add(time.Hour)
	}
}
