package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

func TestAStormWindowStaysOpenWhileAlertsKeepComing(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	g := &group{started: start, last: start}
	w := 30 * time.Second
	assert.False(t, g.due(start.Add(29*time.Second), w))
	assert.True(t, g.due(start.Add(30*time.Second), w), "quiet for a window: sent")
	g.last = start.Add(4 * time.Minute)
	assert.False(t, g.due(start.Add(4*time.Minute+10*time.Second), w), "still growing")
	assert.True(t, g.due(start.Add(5*time.Minute), w), "but never longer than ten windows")
}

// clock is an injected clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRemediationBacksOffAndStopsAfterItsAttempts(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	device := uuid.New()
	_, err := db.Pool.Exec(ctx, `INSERT INTO devices (id, alias, serial, token_bcrypt, token_digest, token_pepper_id, hmac_key_id)
		VALUES ($1, 'kiosk', 'k1', 'x', '\x00', 'p', 'k')`, device)
	require.NoError(t, err)
	store := pgstore.NewAlerts(db.Pool)
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	var sent []time.Time
	s := New(DefaultConfig(), Deps{Store: store, Now: c.now, Log: zerolog.Nop(),
		Remediate: func(d uuid.UUID, pkg string) error {
			assert.Equal(t, device, d)
			assert.Equal(t, "com.example.kiosk", pkg)
			sent = append(sent, c.t)
			return nil
		}})
	rows, err := store.Apply(ctx, []pgstore.AlertChange{{ID: uuid.New(), DeviceID: &device, Rule: "service_down",
		Severity: "critical", Fired: true, Notified: true, At: c.t,
		Details: map[string]any{"package": "com.example.kiosk", "auto_remediate": true}}})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	s.recorded(&rows[0])

	for range 12 { // a flush a minute for twelve minutes
		s.remediate(ctx)
		c.t = c.t.Add(time.Minute)
	}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, []time.Time{start, start.Add(2 * time.Minute), start.Add(6 * time.Minute)}, sent,
		"at once, then after 2 and 4 more minutes, then no more")
	got, err := store.List(ctx, pgstore.AlertQuery{Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, 3, got[0].RemediationAttempts)
	assert.Equal(t, false, *got[0].Remediated, "still down")

	rows, err = store.Apply(ctx, []pgstore.AlertChange{{DeviceID: &device, Rule: "service_down", At: c.t}})
	require.NoError(t, err)
	assert.Equal(t, true, *rows[0].Remediated, "it came back after remediation")
}
