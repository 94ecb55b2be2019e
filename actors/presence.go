package actors

import (
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// StatusListener hears device presence transitions. It is called from actor
// goroutines and must not block.
type StatusListener interface {
	DeviceOnline(id uuid.UUID, at time.Time)
	DeviceOffline(id uuid.UUID, at, lastSeen time.Time)
}

// presence counts online devices and forwards transitions to the listeners.
type presence struct {
	listeners []StatusListener
	count     atomic.Int64
	changes   *prometheus.CounterVec
}

func newPresence(reg prometheus.Registerer, listeners []StatusListener) *presence {
	p := &presence{
		listeners: listeners,
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_device_presence_changes_total", Help: "Device online/offline transitions.",
		}, []string{"to"}),
	}
	if reg != nil {
		reg.MustRegister(p.changes, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "nexmdm_devices_online", Help: "Devices whose last heartbeat is within the offline threshold.",
		}, func() float64 { return float64(p.count.Load()) }))
	}
	return p
}

func (p *presence) online(id uuid.UUID, at time.Time) {
	p.count.Add(1)
	p.changes.WithLabelValues("online").Inc()
	for _, l := range p.listeners {
		l.DeviceOnline(id, at)
	}
}

func (p *presence) offline(id uuid.UUID, at, lastSeen time.Time) {
	p.count.Add(-1)
	p.changes.WithLabelValues("offline").Inc()
	for _, l := range p.listeners {
		l.DeviceOffline(id, at, lastSeen)
	}
}
