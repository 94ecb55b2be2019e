// Package targets holds the servers NexMDM is measured against, driven by
// the same loadgen in the same run: a no-op fasthttp server (the HTTP
// ceiling of this machine) and the seed-style baseline that stores each
// heartbeat in its own transaction, as a conventional MDM backend does.
package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"
)

// okBody is what NexMDM answers a stored heartbeat; both targets answer it.
var okBody = []byte(`{"deduped":false,"commands":[],"heartbeat_interval_s":300}`)

var dedupedBody = []byte(`{"deduped":true,"commands":[],"heartbeat_interval_s":300}`)

// ServeNoop answers every heartbeat 200 without reading it, until ctx ends.
func ServeNoop(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/readyz" {
			c.SetStatusCode(200)
			return
		}
		c.SetContentType("application/json")
		c.SetBody(okBody)
	})
}

// Baseline stores each heartbeat with one INSERT and one UPSERT in its own
// transaction, on a pool of 32 connections: the per-request design of the
// seed. It does not check tokens (that would only make it slower); it
// reads the device id from the token.
type Baseline struct{ pool *pgxpool.Pool }

// NewBaseline connects to a database migrated with `nexmdm migrate` and
// creates heartbeat partitions around now.
func NewBaseline(ctx context.Context, dbURL string) (*Baseline, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	day := 24 * time.Hour
	today := time.Now().UTC().Truncate(day)
	for d := today.Add(-2 * day); !d.After(today.Add(2 * day)); d = d.Add(day) {
		sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS heartbeats_p%s PARTITION OF heartbeats FOR VALUES FROM ('%s') TO ('%s')`,
			d.Format("20060102"), d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
		if _, err := pool.Exec(ctx, sql); err != nil {
			pool.Close()
			return nil, fmt.Errorf("create partition: %w", err)
		}
	}
	return &Baseline{pool: pool}, nil
}

// Close releases the pool.
func (b *Baseline) Close() { b.pool.Close() }

type baselineHeartbeat struct {
	TS               time.Time        `json:"ts"`
	BatteryPct       *int16           `json:"battery_pct"`
	Charging         *bool            `json:"charging"`
	RAMUsedMB        *int32           `json:"ram_used_mb"`
	RAMTotalMB       *int32           `json:"ram_total_mb"`
	UptimeS          *int64           `json:"uptime_s"`
	NetType          *string          `json:"net_type"`
	SSID             *string          `json:"ssid"`
	SignalDBm        *int16           `json:"signal_dbm"`
	AgentVersion     *string          `json:"agent_version"`
	AgentVersionCode *int32           `json:"agent_version_code"`
	ForegroundPkg    *string          `json:"foreground_pkg"`
	AppLastFg        *json.RawMessage `json:"app_last_foreground"`
	PowerOK          *bool            `json:"power_ok"`
	DozeWhitelisted  *bool            `json:"doze_whitelisted"`
	NetValidated     *bool            `json:"net_validated"`
	QueueDepth       *int32           `json:"queue_depth"`
}

// Serve answers heartbeats until ctx ends.
func (b *Baseline) Serve(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/readyz" {
			c.SetStatusCode(200)
			return
		}
		auth := c.Request.Header.Peek("Authorization")
		tok, ok := bytes.CutPrefix(auth, []byte("Bearer "))
		if !ok || len(tok) < 36 {
			c.SetStatusCode(401)
			return
		}
		id, err := uuid.ParseBytes(tok[:36])
		if err != nil {
			c.SetStatusCode(401)
			return
		}
		var hb baselineHeartbeat
		if err := json.Unmarshal(c.PostBody(), &hb); err != nil {
			c.SetStatusCode(400)
			return
		}
		stored, err := b.store(id, &hb)
		if err != nil {
			c.SetStatusCode(503)
			c.Response.Header.Set("Retry-After", "1")
			return
		}
		c.SetContentType("application/json")
		if stored {
			c.SetBody(okBody)
		} else {
			c.SetBody(dedupedBody)
		}
	})
}

func (b *Baseline) store(id uuid.UUID, h *baselineHeartbeat) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stored bool
	now := time.Now()
	bucket := h.TS.UTC().Truncate(10 * time.Second)
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO heartbeats (device_id, bucket_start, ts, received_at, battery_pct, charging,
				ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version_code,
				foreground_pkg, power_ok, doze_whitelisted, net_validated, queue_depth)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
			ON CONFLICT (device_id, bucket_start) DO NOTHING`,
			id, bucket, h.TS, now, h.BatteryPct, h.Charging, h.RAMUsedMB, h.RAMTotalMB, h.UptimeS,
			h.NetType, h.SSID, h.SignalDBm, h.AgentVersionCode, h.ForegroundPkg, h.PowerOK,
			h.DozeWhitelisted, h.NetValidated, h.QueueDepth)
		if err != nil {
			return err
		}
		if stored = tag.RowsAffected() == 1; !stored {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO device_last_status AS s (device_id, ts, received_at, battery_pct, charging,
				ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version,
				agent_version_code, foreground_pkg, app_last_foreground, power_ok, doze_whitelisted,
				net_validated, queue_depth)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)
			ON CONFLICT (device_id) DO UPDATE SET ts = EXCLUDED.ts, received_at = EXCLUDED.received_at,
				battery_pct = EXCLUDED.battery_pct, charging = EXCLUDED.charging,
				ram_used_mb = EXCLUDED.ram_used_mb, ram_total_mb = EXCLUDED.ram_total_mb,
				uptime_s = EXCLUDED.uptime_s, net_type = EXCLUDED.net_type, ssid = EXCLUDED.ssid,
				signal_dbm = EXCLUDED.signal_dbm, agent_version = EXCLUDED.agent_version,
				agent_version_code = EXCLUDED.agent_version_code, foreground_pkg = EXCLUDED.foreground_pkg,
				app_last_foreground = EXCLUDED.app_last_foreground, power_ok = EXCLUDED.power_ok,
				doze_whitelisted = EXCLUDED.doze_whitelisted, net_validated = EXCLUDED.net_validated,
				queue_depth = EXCLUDED.queue_depth
			WHERE s.ts <= EXCLUDED.ts`,
			id, h.TS, now, h.BatteryPct, h.Charging, h.RAMUsedMB, h.RAMTotalMB, h.UptimeS, h.NetType,
			h.SSID, h.SignalDBm, h.AgentVersion, h.AgentVersionCode, h.ForegroundPkg, h.AppLastFg,
			h.PowerOK, h.DozeWhitelisted, h.NetValidated, h.QueueDepth)
		return err
	})
	return stored, err
}

func serve(ctx context.Context, ln net.Listener, h fasthttp.RequestHandler) error {
	srv := &fasthttp.Server{Handler: h, Name: "target", IdleTimeout: time.Minute, CloseOnShutdown: true}
	go func() {
		<-ctx.Done()
		srv.Shutdown()
	}()
	return srv.Serve(ln)
}
