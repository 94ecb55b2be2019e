package actors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// report sends a heartbeat with the given fields and waits for its answer.
func (f *fixture) report(t *testing.T, id uuid.UUID, secret string, h persistence.Heartbeat) actors.HeartbeatReply {
	t.Helper()
	req := actors.NewHeartbeatRequest()
	h.DeviceID, h.ReceivedAt = id, f.clock.Now()
	if h.TS.IsZero() {
		h.TS = f.clock.Now()
	}
	req.Write.Heartbeat = h
	req.Digest = f.digest(secret)
	req.Secret = secret
	require.NoError(t, f.dir.Heartbeat(req))
	return wait(t, req)
}

// setMonitoring saves settings and applies them, as the admin API does.
func (f *fixture) setMonitoring(t *testing.T, id uuid.UUID, m persistence.Monitoring) {
	t.Helper()
	saved, err := f.devices.PatchMonitoring(t.Context(), []uuid.UUID{id}, pgstore.MonitoringPatch{
		Package: &m.Package, DisplayName: &m.DisplayName, ThresholdMin: &m.ThresholdMin,
		Enabled: &m.Enabled, AutoRemediate: &m.AutoRemediate,
	})
	require.NoError(t, err)
	require.Len(t, saved, 1)
	f.dir.SetMonitoring([]actors.MonitoringChange{{ID: id, Monitoring: saved[0].Monitoring}})
}

func battery(pct int16, charging bool) persistence.Heartbeat {
	return persistence.Heartbeat{Has: persistence.HasBattery | persistence.HasCharging, BatteryPct: pct, Charging: charging}
}

func (f *fixture) list(q actors.DeviceQuery) actors.DevicePage {
	if q.Limit == 0 {
		q.Limit = 100
	}
	return f.dir.ListDevices(q, f.clock.Now())
}

func aliases(rows []actors.DeviceRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Alias
	}
	return out
}

func TestListingShowsLiveStatusAsSoonAsAHeartbeatIsAnswered(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "tablet-1")
	rows := f.list(actors.DeviceQuery{}).Rows
	require.Len(t, rows, 1)
	assert.Equal(t, "never", rows[0].Presence())
	assert.EqualValues(t, -1, rows[0].BatteryPct, "no battery reported yet")

	require.Equal(t, actors.Stored, f.report(t, id, secret, battery(42, true)).Outcome)
	row, ok := f.dir.Row(id, f.clock.Now())
	require.True(t, ok)
	assert.Equal(t, "online", row.Presence())
	assert.EqualValues(t, 42, row.BatteryPct)
	assert.True(t, row.Charging)
	assert.Equal(t, f.clock.Now().UnixMilli(), row.LastSeen.UnixMilli())

	f.clock.Advance(f.cfg.OfflineAfter + time.Second)
	f.dir.Sweep(f.clock.Now())
	f.status(t, id) // the sweep has been handled
	row, _ = f.dir.Row(id, f.clock.Now())
	assert.Equal(t, "offline", row.Presence())
}

func TestPagesWalkEveryDeviceOnceInSortOrder(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := range 23 {
		alias := fmt.Sprintf("dev-%02d", (i*7)%23) // enrolled out of order
		f.enroll(t, alias)
	}
	for i := range 23 {
		want = append(want, fmt.Sprintf("dev-%02d", i))
	}
	for _, desc := range []bool{false, true} {
		var got []string
		q := actors.DeviceQuery{Sort: actors.SortAlias, Desc: desc, Limit: 5}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "pagination does not end")
			page := f.list(q)
			assert.Equal(t, 23, page.Total)
			got = append(got, aliases(page.Rows)...)
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		expect := append([]string(nil), want...)
		if desc {
			for i, j := 0, len(expect)-1; i < j; i, j = i+1, j-1 {
				expect[i], expect[j] = expect[j], expect[i]
			}
		}
		assert.Equal(t, expect, got, "desc=%v", desc)
	}
}

func TestTiedSortKeysArePagedByIDWithoutLossOrRepeat(t *testing.T) {
	f := newFixture(t)
	seen := map[uuid.UUID]int{}
	for i := range 12 {
		f.enroll(t, fmt.Sprintf("same-%d", i))
	}
	q := actors.DeviceQuery{Sort: actors.SortBattery, Limit: 5} // every battery is unknown
	for {
		page := f.list(q)
		for _, r := range page.Rows {
			seen[r.ID]++
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	assert.Len(t, seen, 12)
	for id, n := range seen {
		assert.Equal(t, 1, n, id)
	}
}

func TestFiltersCombine(t *testing.T) {
	f := newFixture(t)
	low, lowSecret := f.enroll(t, "Kiosk-Lobby")
	full, fullSecret := f.enroll(t, "kiosk-gate")
	f.enroll(t, "scanner-9")
	require.Equal(t, actors.Stored, f.report(t, low, lowSecret, battery(9, false)).Outcome)
	h := battery(90, false)
	h.Has |= persistence.HasAgentVersion
	h.AgentVersion = "2.1.0"
	require.Equal(t, actors.Stored, f.report(t, full, fullSecret, h).Outcome)

	for name, c := range map[string]struct {
		filter actors.DeviceFilter
		want   []string
	}{
		"search ignores case":      {actors.DeviceFilter{Search: "KIOSK"}, []string{"Kiosk-Lobby", "kiosk-gate"}},
		"search matches serial":    {actors.DeviceFilter{Search: "ner-9"}, []string{"scanner-9"}},
		"SQL-ish search is text":   {actors.DeviceFilter{Search: "' OR 1=1 --"}, []string{}},
		"online":                   {actors.DeviceFilter{Presence: "online"}, []string{"Kiosk-Lobby", "kiosk-gate"}},
		"never reported":           {actors.DeviceFilter{Presence: "never"}, []string{"scanner-9"}},
		"battery below":            {actors.DeviceFilter{BatteryBelow: 15}, []string{"Kiosk-Lobby"}},
		"agent version":            {actors.DeviceFilter{AgentVersion: "2.1.0"}, []string{"kiosk-gate"}},
		"search and battery below": {actors.DeviceFilter{Search: "gate", BatteryBelow: 15}, []string{}},
	} {
		page := f.list(actors.DeviceQuery{Filter: c.filter, Sort: actors.SortAlias})
		assert.Equal(t, c.want, aliases(page.Rows), name)
		assert.Equal(t, len(c.want), page.Total, name)
	}
}

func TestServiceIsDownWhenItsPackageLeftTheForegroundLongerThanTheThreshold(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "kiosk")
	f.setMonitoring(t, id, persistence.Monitoring{
		Package: "com.unity.kiosk", DisplayName: "Kiosk app", ThresholdMin: 10, Enabled: true,
	})
	down := func() bool {
		f.status(t, id)
		row, _ := f.dir.Row(id, f.clock.Now())
		return row.Service.Down
	}

	seenAt := f.clock.Now().Add(-2 * time.Minute)
	h := persistence.Heartbeat{
		Has:               persistence.HasAppLastForeground,
		AppLastForeground: fmt.Sprintf(`{"com.android.settings": 1, "com.unity.kiosk": %d}`, seenAt.UnixMilli()),
	}
	require.Equal(t, actors.Stored, f.report(t, id, secret, h).Outcome)
	assert.False(t, down(), "in the foreground two minutes ago")
	row, _ := f.dir.Row(id, f.clock.Now())
	assert.Equal(t, seenAt.UnixMilli(), row.Service.LastForeground.UnixMilli())

	f.clock.Advance(9 * time.Minute)
	require.Equal(t, actors.Stored, f.report(t, id, secret, battery(50, true)).Outcome)
	assert.True(t, down(), "eleven minutes without the foreground")
	ids, total := f.dir.SelectDevices(actors.DeviceFilter{ServiceDown: true}, f.clock.Now(), 10)
	assert.Equal(t, []uuid.UUID{id}, ids)
	assert.Equal(t, 1, total)

	f.setMonitoring(t, id, persistence.Monitoring{Package: "com.unity.kiosk", ThresholdMin: 60, Enabled: true})
	assert.False(t, down(), "a live actor takes the longer threshold")
	f.setMonitoring(t, id, persistence.Monitoring{Package: "com.unity.kiosk", ThresholdMin: 10, Enabled: true})
	assert.True(t, down())

	fg := persistence.Heartbeat{Has: persistence.HasForegroundPkg, ForegroundPkg: "com.unity.kiosk"}
	fg.TS = f.clock.Now().Add(10 * time.Second)
	require.Equal(t, actors.Stored, f.report(t, id, secret, fg).Outcome)
	assert.False(t, down(), "back in the foreground")
	assert.Equal(t, 1, f.dir.Summary(f.clock.Now()).Monitored)
}

func TestSummaryCountsPresenceBatteryAndVersions(t *testing.T) {
	f := newFixture(t)
	a, as := f.enroll(t, "a")
	b, bs := f.enroll(t, "b")
	f.enroll(t, "c")
	h := battery(10, false)
	h.Has |= persistence.HasAgentVersion
	h.AgentVersion = "1.0"
	require.Equal(t, actors.Stored, f.report(t, a, as, h).Outcome)
	require.Equal(t, actors.Stored, f.report(t, b, bs, battery(75, true)).Outcome)

	sum := f.dir.Summary(f.clock.Now())
	assert.Equal(t, 3, sum.Total)
	assert.Equal(t, 2, sum.Online)
	assert.Equal(t, 1, sum.Never)
	assert.Equal(t, [4]int{1, 0, 0, 1}, sum.Battery)
	assert.Equal(t, 1, sum.BatteryUnknown)
	assert.Equal(t, 1, sum.LowBattery)
	assert.Equal(t, 1, sum.Charging)
	assert.Equal(t, 1, sum.AgentVersions["1.0"])
}

func TestChangedRowsAreDrainedOnceEachWithWhatChanged(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "a")
	assert.Equal(t, []actors.RowChange{{ID: id, Fields: actors.RowFacts}}, f.dir.DrainChanged(nil),
		"a new device goes out whole")
	beat := func(i int, pct int16, charging bool) {
		t.Helper()
		h := battery(pct, charging)
		h.TS = f.clock.Now().Add(time.Duration(i) * 10 * time.Second)
		require.Equal(t, actors.Stored, f.report(t, id, secret, h).Outcome)
		f.status(t, id)
	}
	for i := range 5 {
		beat(i, 80, false)
	}
	assert.Equal(t, []actors.RowChange{{ID: id, Fields: actors.RowStatus | actors.RowBattery}}, f.dir.DrainChanged(nil),
		"it came online, with a battery level")
	assert.Empty(t, f.dir.DrainChanged(nil), "nothing changed since")

	beat(5, 80, false)
	assert.Empty(t, f.dir.DrainChanged(nil), "only last_seen moved, by less than a minute")
	beat(6, 79, false)
	beat(7, 79, true)
	assert.Equal(t, []actors.RowChange{{ID: id, Fields: actors.RowBattery | actors.RowCharging}}, f.dir.DrainChanged(nil),
		"the battery moved, then it was plugged in: one change with both")
	f.clock.Advance(61 * time.Second)
	beat(8, 79, true)
	assert.Equal(t, []actors.RowChange{{ID: id}}, f.dir.DrainChanged(nil),
		"last_seen is refreshed at least once a minute, and nothing else changed")

	f.dir.SetMonitoring([]actors.MonitoringChange{{ID: id, Monitoring: persistence.Monitoring{
		Package: "com.example.kiosk", DisplayName: "Kiosk", Enabled: true, ThresholdMin: 5}}})
	assert.Equal(t, []actors.RowChange{{ID: id, Fields: actors.RowFacts}}, f.dir.DrainChanged(nil),
		"new monitoring settings send the whole row")
}

func TestListingSurvivesARestart(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "kept")
	require.Equal(t, actors.Stored, f.report(t, id, secret, battery(33, false)).Outcome)
	f.status(t, id) // the actor has queued its snapshot
	f.restart(t)
	row, ok := f.dir.Row(id, f.clock.Now())
	require.True(t, ok)
	assert.Equal(t, "kept", row.Alias)
	assert.EqualValues(t, 33, row.BatteryPct)
	assert.Equal(t, "online", row.Presence())
}

func TestDeletedDevicesLeaveTheListing(t *testing.T) {
	f := newFixture(t)
	id, _ := f.enroll(t, "gone")
	f.enroll(t, "stays")
	_, err := f.dir.Delete(t.Context(), []uuid.UUID{id})
	require.NoError(t, err)
	assert.Equal(t, []string{"stays"}, aliases(f.list(actors.DeviceQuery{}).Rows))
	_, ok := f.dir.Row(id, f.clock.Now())
	assert.False(t, ok)
}
