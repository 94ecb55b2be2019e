package alerting

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// RemediationConfig bounds auto-remediation: the first attempt goes at
// once, the next after FirstRetry, doubling, up to MaxAttempts.
type RemediationConfig struct {
	MaxAttempts int
	FirstRetry  time.Duration
}

// remediation is an open service-down alert the server is trying to fix.
type remediation struct {
	alert    uuid.UUID
	pkg      string
	attempts int
	next     time.Time
}

// trackRemediation starts remediating a service-down alert whose device
// asked for it, and stops when the alert resolves (the row then says
// whether remediation fixed it).
func (s *Supervisor) trackRemediation(a *pgstore.AlertRecord, fired bool) {
	if a.DeviceID == nil || s.deps.Remediate == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !fired {
		delete(s.remedy, *a.DeviceID)
		return
	}
	pkg, _ := a.Details["package"].(string)
	if on, _ := a.Details["auto_remediate"].(bool); !on || pkg == "" {
		return
	}
	s.remedy[*a.DeviceID] = &remediation{alert: a.ID, pkg: pkg, next: s.deps.Now()}
}

// remediate sends the attempts that are due.
func (s *Supervisor) remediate(ctx context.Context) {
	now := s.deps.Now()
	type due struct {
		device uuid.UUID
		r      remediation
	}
	var todo []due
	s.mu.Lock()
	for device, r := range s.remedy {
		if now.Before(r.next) {
			continue
		}
		r.attempts++
		r.next = now.Add(s.cfg.Remediation.FirstRetry << (r.attempts - 1))
		todo = append(todo, due{device, *r})
		if r.attempts >= s.cfg.Remediation.MaxAttempts {
			delete(s.remedy, device)
		}
	}
	s.mu.Unlock()
	for _, d := range todo {
		if err := s.deps.Remediate(d.device, d.r.pkg); err != nil {
			s.deps.Log.Error().Str("event", "alerts.remediate.error").Str("device", d.device.String()).Err(err).Msg("launch_app not sent")
			continue
		}
		s.m.remediations.Inc()
		if err := s.deps.Store.RecordRemediation(ctx, d.r.alert, now); err != nil {
			s.deps.Log.Error().Str("event", "alerts.remediate.record.error").Err(err).Msg("attempt not recorded")
		}
		s.deps.Log.Info().Str("event", "alerts.remediate").Str("device", d.device.String()).Str("package", d.r.pkg).
			Int("attempt", d.r.attempts).Msg("launch_app sent")
	}
}
