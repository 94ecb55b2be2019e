package wshub

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sent          *prometheus.CounterVec // by message type
	dropped       *prometheus.CounterVec // by reason
	eventsDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, clients func() int) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_ws_messages_sent_total", Help: "Messages written to dashboard WebSocket clients, by type.",
		}, []string{"type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_ws_clients_dropped_total", Help: "Dashboard WebSocket clients closed by the server, by reason.",
		}, []string{"reason"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexmdm_ws_events_dropped_total", Help: "Published events dropped: too many awaited a flush, or the payload could not be encoded.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.dropped, m.eventsDropped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "nexmdm_ws_clients", Help: "Open dashboard WebSocket connections.",
		}, func() float64 { return float64(clients()) }))
	}
	return m
}
