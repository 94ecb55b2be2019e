package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// fleetOf returns a directory of n devices with varied live state, the way
// 100,000 enrolled devices sit in memory; no actors or stores are needed to
// read the view.
func fleetOf(b *testing.B, n int, now time.Time) *Directory {
	b.Helper()
	d := NewDirectory(context.Background(), DefaultConfig(), Deps{System: actor.NewActorSystem(), Log: zerolog.Nop()})
	for i := range n {
		id := uuid.New()
		d.Enrolled(id, persistence.DeviceFacts{
			Alias: fmt.Sprintf("Store %d till %d", i/4, i%4), Serial: fmt.Sprintf("R58M%07d", i),
			Model: "SM-T500", AgentVersion: "1.2.0", EnrolledAt: now.Add(-time.Duration(i) * time.Minute),
		}, make([]byte, 32), "p1", nil)
		s := d.shard(id)
		v := &s.views[s.m[id].slot]
		v.lastSeen = now.Add(-time.Duration(i%900) * time.Second).UnixMilli()
		v.online = i%10 != 0
		v.battery = int16(i % 101)
		v.monitoredPkg, v.monitorEnabled, v.thresholdMin = "com.example.kiosk", i%2 == 0, 10
		v.monitoredLastFG = now.Add(-time.Duration(i%20) * time.Minute).UnixMilli()
	}
	d.DrainChanged(nil)
	return d
}

func BenchmarkFleetView100k(b *testing.B) {
	now := time.Now()
	d := fleetOf(b, 100_000, now)
	first := d.ListDevices(DeviceQuery{Sort: SortAlias, Limit: 50}, now)
	for name, q := range map[string]DeviceQuery{
		"first page by last seen":   {Sort: SortLastSeen, Desc: true, Limit: 50},
		"second page by alias":      {Sort: SortAlias, After: first.Next, Limit: 50},
		"search":                    {Filter: DeviceFilter{Search: "store 123"}, Sort: SortAlias, Limit: 50},
		"offline, battery below 20": {Filter: DeviceFilter{Presence: "offline", BatteryBelow: 20}, Limit: 50},
		"service down, 500 a page":  {Filter: DeviceFilter{ServiceDown: true}, Limit: 500},
	} {
		b.Run("list/"+name, func(b *testing.B) {
			for b.Loop() {
				d.ListDevices(q, now)
			}
		})
	}
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
			d.Summary(now)
		}
	})
}
