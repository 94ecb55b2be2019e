package actors

import (
	"context"
	"encoding/json"
	"time"

	"firebase.google.com/go/v4/messaging"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// Pusher sends FCM data messages: the firebase messaging client.
type Pusher interface {
	SendEach(ctx context.Context, msgs []*messaging.Message) (*messaging.BatchResponse, error)
}

// TokenStore keeps what devices hold: it forgets FCM tokens that FCM says
// are no longer registered, and records which master key a device's
// command key derives from once the device has the current one.
type TokenStore interface {
	ForgetFCMToken(ctx context.Context, device uuid.UUID, token string) error
	SetHMACKeyID(ctx context.Context, device uuid.UUID, kid string) error
}

// DispatchConfig tunes the dispatch supervisor.
type DispatchConfig struct {
	BatchSize   int           // messages per SendEach; FCM allows 500
	InFlight    int           // SendEach calls at once; pushes that arrive meanwhile form the next batch
	MaxAttempts int           // after these, the command waits for the pull path
	Backoff     time.Duration // first retry delay; doubled per attempt
	SendTimeout time.Duration
}

// DefaultDispatchConfig suits FCM's limits.
func DefaultDispatchConfig() DispatchConfig {
	return DispatchConfig{BatchSize: 500, InFlight: 4, MaxAttempts: 5,
		Backoff: 500 * time.Millisecond, SendTimeout: 30 * time.Second}
}

// push is one command to send to one FCM token.
type push struct {
	cmd     persistence.Command
	token   string
	attempt int
}

// dispatchDone is a SendEach call's answer.
type dispatchDone struct {
	batch []*push
	resp  *messaging.BatchResponse
	err   error
}

// dispatcher is the dispatch supervisor actor. Device actors send it pushes
// and never wait. A push goes out at once when a sender is free; while all
// are busy, pushes queue and leave together, up to BatchSize a call (the
// writer's group commit, for FCM). Calls are made off the actor; it
// retries 5xx and quota errors with backoff, forgets unregistered tokens,
// and records `sent` for what FCM accepted. Whatever FCM does not take
// still reaches the device by the pull path.
type dispatcher struct {
	cfg    DispatchConfig
	pusher Pusher
	tokens TokenStore
	dir    *Directory
	log    zerolog.Logger

	self     *actor.PID
	root     *actor.RootContext
	queue    []*push
	inFlight int
}

func (d *dispatcher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		d.self = ctx.Self()
	case *push:
		d.queue = append(d.queue, m)
		d.flush()
	case *dispatchDone:
		d.inFlight--
		d.settle(m)
		d.flush()
	}
}

func (d *dispatcher) flush() {
	for len(d.queue) > 0 && d.inFlight < d.cfg.InFlight {
		n := min(len(d.queue), d.cfg.BatchSize)
		batch := d.queue[:n:n]
		d.queue = d.queue[n:]
		d.inFlight++
		go d.send(batch)
	}
}

// send runs off the actor; its answer comes back as a message.
func (d *dispatcher) send(batch []*push) {
	msgs := make([]*messaging.Message, len(batch))
	for i, p := range batch {
		msgs[i] = fcmMessage(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.SendTimeout)
	defer cancel()
	resp, err := d.pusher.SendEach(ctx, msgs)
	d.root.Send(d.self, &dispatchDone{batch: batch, resp: resp, err: err})
}

// fcmMessage is a high-priority data message holding the signed command,
// in the form the pull path delivers it.
func fcmMessage(p *push) *messaging.Message {
	c := &p.cmd
	body, _ := json.Marshal(map[string]any{
		"id": c.ID.String(), "device_id": c.DeviceID.String(), "type": c.Type, "params_json": c.ParamsJSON,
		"issued_at_unix": c.IssuedAt.Unix(), "hmac_key_id": c.KeyID, "sig": c.Sig,
	})
	ttl := max(0, time.Until(c.ExpiresAt)) // FCM drops it when the command would have expired
	return &messaging.Message{
		Token:   p.token,
		Data:    map[string]string{"kind": "command", "command": string(body)},
		Android: &messaging.AndroidConfig{Priority: "high", TTL: &ttl, CollapseKey: c.ID.String()},
	}
}

func (d *dispatcher) settle(m *dispatchDone) {
	now := time.Now()
	for i, p := range m.batch {
		err := m.err
		if err == nil {
			if r := m.resp.Responses[i]; !r.Success {
				err = r.Error
			}
		}
		switch {
		case err == nil:
			d.dir.sh.commands.Record(persistence.CommandTransition{
				ID: p.cmd.ID, DeviceID: p.cmd.DeviceID, Status: persistence.CommandSent, At: now, Detail: "pushed with FCM",
			})
		case messaging.IsUnregistered(err):
			d.log.Info().Str("event", "fcm.token.unregistered").Stringer("device_id", p.cmd.DeviceID).Msg("FCM token dead; the device pulls")
			d.dir.FCMTokenDead(p.cmd.DeviceID, p.token)
			go d.forget(p.cmd.DeviceID, p.token)
		case retryable(err) && p.attempt+1 < d.cfg.MaxAttempts && now.Before(p.cmd.ExpiresAt):
			p.attempt++
			delay := d.cfg.Backoff << (p.attempt - 1)
			d.log.Warn().Str("event", "fcm.send.retry").Stringer("command_id", p.cmd.ID).Int("attempt", p.attempt).Dur("in", delay).Err(err).Msg("FCM send failed; retrying")
			time.AfterFunc(delay, func() { d.root.Send(d.self, p) })
		default:
			d.log.Warn().Str("event", "fcm.send.error").Stringer("command_id", p.cmd.ID).Err(err).Msg("FCM send failed; the device pulls")
		}
	}
}

func retryable(err error) bool {
	return messaging.IsInternal(err) || messaging.IsUnavailable(err) || messaging.IsQuotaExceeded(err) ||
		!isFirebaseAnswer(err) // transport errors, timeouts
}

// isFirebaseAnswer reports whether FCM answered with an error code of its own.
func isFirebaseAnswer(err error) bool {
	return messaging.IsInvalidArgument(err) || messaging.IsSenderIDMismatch(err) ||
		messaging.IsThirdPartyAuthError(err) || messaging.IsUnregistered(err)
}

func (d *dispatcher) forget(device uuid.UUID, token string) {
	if d.tokens == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.tokens.ForgetFCMToken(ctx, device, token); err != nil {
		d.log.Error().Str("event", "fcm.token.forget.error").Stringer("device_id", device).Err(err).Msg("clear dead FCM token")
	}
}
