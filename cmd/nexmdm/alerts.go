package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/actors/alerting"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// configuredChannels are the channels the environment names: Discord and
// the generic webhook take warnings and worse, email critical alerts only.
func configuredChannels(cfg config) ([]pgstore.AlertChannel, error) {
	var out []pgstore.AlertChannel
	if cfg.DiscordWebhook != "" {
		out = append(out, pgstore.AlertChannel{Name: "discord", Kind: "discord", URL: cfg.DiscordWebhook, MinSeverity: "warning"})
	}
	if cfg.AlertWebhook != "" {
		if cfg.AlertWebhookKey == "" {
			return nil, errors.New("NEXMDM_ALERT_WEBHOOK_URL needs NEXMDM_ALERT_WEBHOOK_SECRET: receivers verify the signature with it")
		}
		out = append(out, pgstore.AlertChannel{Name: "webhook", Kind: "webhook", URL: cfg.AlertWebhook,
			Secret: cfg.AlertWebhookKey, MinSeverity: "warning"})
	}
	if cfg.SMTPURL != "" {
		if len(cfg.AlertEmailTo) == 0 {
			return nil, errors.New("NEXMDM_SMTP_URL needs NEXMDM_ALERT_EMAIL_TO: who gets the mail")
		}
		out = append(out, pgstore.AlertChannel{Name: "email", Kind: "email", URL: cfg.SMTPURL,
			EmailFrom: cfg.AlertEmailFrom, EmailTo: cfg.AlertEmailTo, MinSeverity: "critical"})
	}
	for i := range out {
		out[i].ID, out[i].Enabled = uuid.New(), true
		if _, err := alerting.BuildRoute(out[i], nil); err != nil {
			return nil, fmt.Errorf("alert channel from the environment: %w", err)
		}
	}
	return out, nil
}

// newAlerting seeds the configured channels (the admin API's edits win
// over them) and starts routing by what Postgres holds.
func newAlerting(ctx context.Context, cfg config, pool *pgxpool.Pool, log zerolog.Logger, reg prometheus.Registerer) (*alerting.Supervisor, error) {
	channels, err := configuredChannels(cfg)
	if err != nil {
		return nil, err
	}
	store := pgstore.NewAlerts(pool)
	now := time.Now()
	for _, c := range channels {
		c.CreatedAt = now
		if err := store.SeedChannel(ctx, c); err != nil {
			return nil, fmt.Errorf("seed alert channel %s: %w", c.Name, err)
		}
	}
	acfg := alerting.DefaultConfig()
	acfg.Window, acfg.StormThreshold, acfg.DashboardURL = cfg.AlertWindow, cfg.AlertStorm, cfg.PublicURL
	sup := alerting.New(acfg, alerting.Deps{Store: store, Log: log, Registry: reg})
	if err := sup.Reload(ctx); err != nil {
		return nil, err
	}
	return sup, nil
}

func alertConfig(cfg config) actors.AlertConfig {
	return actors.AlertConfig{LowBatteryPct: cfg.LowBatteryPct, LowBatteryClearPct: cfg.LowBatteryPct + 5, Cooldown: cfg.AlertCooldown}
}
