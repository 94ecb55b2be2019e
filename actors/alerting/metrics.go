package alerting

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	transitions   *prometheus.CounterVec // rule, fired|resolved
	notifications *prometheus.CounterVec // channel, sent|failed|dropped|rate_limited
	remediations  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexmdm_alerts_total",
			Help: "Alert transitions recorded, by rule and fired or resolved."}, []string{"rule", "transition"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexmdm_alert_notifications_total",
			Help: "Notifications by channel and outcome."}, []string{"channel", "outcome"}),
		remediations: prometheus.NewCounter(prometheus.CounterOpts{Name: "nexmdm_alert_remediations_total",
			Help: "launch_app commands sent to bring a service back."}),
	}
	if reg != nil {
		reg.MustRegister(m.transitions, m.notifications, m.remediations)
	}
	return m
}
