package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/queue"
)

// drainLoop delivers the queue, oldest first, whenever there is something
// new, the network returns, or a backoff ends. While it backs off, new items
// wait for the timer: a device must not hammer a server that said no.
func (a *Agent) drainLoop(ctx context.Context) {
	attempt := 0
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.drainNow:
			if retry != nil {
				continue
			}
		case <-a.netBack:
			attempt, retry = 0, nil
		case <-retry:
			retry = nil
		}
		wait, failed, stop := a.drain(ctx, attempt)
		switch {
		case stop:
			return
		case failed:
			attempt++
			retry = time.After(wait)
		default:
			attempt = 0
		}
	}
}

// outcome is what a delivery attempt means for the item.
type outcome int

const (
	delivered outcome = iota
	refused           // the server will never take it: drop it
	retryLater
	gone
	unauthorized
)

func classify(err error) outcome {
	var perr *client.Error
	switch {
	case err == nil:
		return delivered
	case !errors.As(err, &perr):
		return retryLater // no answer: network or server down
	case perr.Status == 410:
		return gone
	case perr.Status == 401:
		return unauthorized
	case perr.Retryable():
		return retryLater
	}
	return refused // 400, 404, 409, 413: repeating it cannot help
}

// drain delivers until the queue is empty (failed false), a delivery must
// be retried after wait (failed true), or the agent must stop.
func (a *Agent) drain(ctx context.Context, attempt int) (wait time.Duration, failed, stop bool) {
	began, sent := time.Now(), 0
	defer func() {
		if sent > 1 {
			a.deps.Log.Info("queue.drain", "delivered", sent, "took", time.Since(began).String(), "depth", a.q.Len())
		}
	}()
	for ctx.Err() == nil {
		it, ok, err := a.q.Head()
		if err != nil {
			a.deps.Log.Error("queue.drain", "err", err.Error())
			return a.policy.Delay(attempt, 0), true, false
		}
		if !ok {
			return 0, false, false
		}
		err = a.deliver(ctx, it)
		switch classify(err) {
		case delivered:
			a.deps.Log.Debug("deliver.ok", "kind", it.Kind.String(), "key", it.Key, "depth", a.q.Len()-1)
			a.remove(it)
			sent++
		case refused:
			a.deps.Log.Warn("deliver.fail", "kind", it.Kind.String(), "key", it.Key, "final", true, "err", err.Error())
			a.remove(it)
		case gone:
			a.deps.Log.Error("deliver.fail", "kind", it.Kind.String(), "final", true, "err", err.Error())
			a.forget()
			a.halt(ErrGone)
			return 0, false, true
		case unauthorized:
			if a.cfg.EnrollKey == "" {
				a.halt(ErrUnauthorized)
				return 0, false, true
			}
			a.deps.Log.Warn("deliver.fail", "kind", it.Kind.String(), "err", err.Error(), "then", "enroll again")
			if err := a.enroll(ctx); err != nil {
				a.halt(err)
				return 0, false, true
			}
		case retryLater:
			wait = a.policy.Delay(attempt, retryAfter(err))
			paused := a.lowPower() && it.Kind == queue.Heartbeat
			if paused {
				wait = max(wait, a.policy.Cap)
			}
			a.deps.Log.Info("deliver.fail", "kind", it.Kind.String(), "key", it.Key, "err", err.Error())
			a.deps.Log.Info("retry.schedule", "in", wait.String(), "attempt", attempt+1, "depth", a.q.Len(), "low_power_pause", paused)
			return wait, true, false
		}
	}
	return 0, false, true
}

// forget wipes the credentials and the queue: nothing in it can ever be
// delivered under them.
func (a *Agent) forget() {
	if err := a.st.wipeCredentials(); err != nil {
		a.deps.Log.Error("credentials.wipe", "err", err.Error())
	}
	if err := a.q.Clear(); err != nil {
		a.deps.Log.Error("queue.clear", "err", err.Error())
	}
	a.mu.Lock()
	a.creds = nil
	a.mu.Unlock()
	a.deps.Log.Warn("credentials.wipe", "why", "410 from the server")
}

func (a *Agent) remove(it queue.Item) {
	if err := a.q.Remove(it); err != nil {
		a.deps.Log.Error("queue.drain", "err", err.Error())
	}
}

func (a *Agent) deliver(ctx context.Context, it queue.Item) error {
	tok := a.token()
	if it.Kind == queue.Result {
		return a.proto.ActionResultRaw(ctx, tok, it.Body)
	}
	resp, err := a.proto.HeartbeatRaw(ctx, tok, it.Body)
	if err == nil {
		a.onAnswer(ctx, resp)
	}
	return err
}

// onAnswer takes what a heartbeat's answer carries: the interval, a new
// command key, and commands to run.
func (a *Agent) onAnswer(ctx context.Context, resp *client.HeartbeatResponse) {
	a.mu.Lock()
	a.setServerInterval(resp.HeartbeatIntervalS)
	rot := resp.HMACRotation
	var save *credentials
	if rot != nil && a.creds != nil && a.creds.Keys[rot.HMACKeyID] == "" {
		a.creds.Keys[rot.HMACKeyID] = rot.HMACKey
		a.creds.NewestKey = rot.HMACKeyID
		save = a.creds.clone()
	}
	a.mu.Unlock()
	if save != nil {
		if err := a.st.save("credentials", save); err != nil {
			a.deps.Log.Error("credentials.save", "err", err.Error())
		}
		a.deps.Log.Info("hmac.rotate", "key_id", rot.HMACKeyID)
	}
	for _, raw := range resp.Commands {
		select {
		case a.commands <- append(json.RawMessage(nil), raw...):
		case <-ctx.Done():
			return
		}
	}
}
