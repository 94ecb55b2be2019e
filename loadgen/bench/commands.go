package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/loadgen"
	"github.com/nexmdm/nexmdm/loadgen/fakefcm"
)

// CommandRoundTrip is commands end to end at the fleet's size: admin POST,
// FCM push through the real firebase client to a local fake, the device's
// result accepted.
type CommandRoundTrip struct {
	Devices  int                        `json:"devices"`
	Commands int                        `json:"commands_per_run"`
	Rate     float64                    `json:"commands_per_second"`
	Runs     []*loadgen.RoundTripReport `json:"runs"`
	P50      float64                    `json:"p50_ms"` // medians over runs
	P99      float64                    `json:"p99_ms"`
	Lost     int                        `json:"lost"` // over all runs
}

const fcmProject = "nexmdm-bench"

// commandRoundTrip gives the fleet scenario's devices FCM tokens and runs
// b.cfg.Commands commands through NexMDM, Runs times.
func (b *bench) commandRoundTrip(ctx context.Context, devices int) error {
	n := min(devices, len(b.creds))
	rate := 400.0
	b.phase("commands: %d pings to %d devices at %.0f/s, admin POST to device result, pushed by FCM", b.cfg.Commands, n, rate)
	fcm, err := fakefcm.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer fcm.Close()
	if err := b.giveFCMTokens(ctx, n); err != nil {
		return err
	}
	out := &CommandRoundTrip{Devices: n, Commands: b.cfg.Commands, Rate: rate}
	env := []string{"NEXMDM_FCM_PROJECT_ID=" + fcmProject, "NEXMDM_FCM_ENDPOINT=" + fcm.Endpoint()}
	for r := range b.cfg.Runs {
		srv, _, err := b.startNexmdmOn(ctx, b.dbs.nexmdm, b.redisPrefix(), env...)
		if err != nil {
			return err
		}
		rt := &loadgen.RoundTrip{BaseURL: srv.url, AdminKey: benchKey, FCM: fcm, Devices: b.creds[:n],
			Commands: b.cfg.Commands, Rate: rate, Timeout: 30 * time.Second}
		rep, err := rt.Run(ctx)
		if stopErr := srv.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		b.logf("run %d: %d of %d commands answered; round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms",
			r+1, rep.Completed, rep.Sent, rep.Latency.P50, rep.Latency.P99, rep.Latency.Max)
		out.Runs = append(out.Runs, rep)
	}
	var p50, p99 []float64
	for _, rep := range out.Runs {
		p50, p99 = append(p50, rep.Latency.P50), append(p99, rep.Latency.P99)
		out.Lost += rep.Lost
	}
	out.P50, out.P99 = median(p50), median(p99)
	b.res.Commands = out
	return nil
}

// giveFCMTokens registers an FCM token for each of the first n devices, as
// devices with Google Play services do at enrollment.
func (b *bench) giveFCMTokens(ctx context.Context, n int) error {
	serials := make([]string, n)
	for i := range serials {
		serials[i] = b.creds[i].Serial
	}
	conn, err := pgx.Connect(ctx, b.dbs.nexmdm)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE devices SET fcm_token = 'loadgen-' || serial WHERE serial = ANY($1)`, serials)
	return err
}
