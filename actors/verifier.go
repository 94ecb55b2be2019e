package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// verifier runs the rare bcrypt checks off the actors: a device whose token
// digest was made with a pepper that has since changed proves its secret
// against the bcrypt hash once, and its digest is rewritten under the new
// pepper. A small fixed pool keeps a burst of such devices from starving
// the heartbeat path of CPU.
type verifier struct {
	jobs     chan verifyJob
	store    DeviceStore
	root     *actor.RootContext
	pepperID string
}

type verifyJob struct {
	id   uuid.UUID
	pid  *actor.PID
	hash string
	req  *HeartbeatRequest
}

func newVerifier(ctx context.Context, workers int, store DeviceStore, root *actor.RootContext, pepperID string) *verifier {
	v := &verifier{jobs: make(chan verifyJob, 1024), store: store, root: root, pepperID: pepperID}
	for range workers {
		go v.run(ctx)
	}
	return v
}

// submit queues a check without blocking; false when the pool is saturated.
func (v *verifier) submit(j verifyJob) bool {
	select {
	case v.jobs <- j:
		return true
	default:
		return false
	}
}

func (v *verifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-v.jobs:
			v.root.Send(j.pid, v.check(ctx, j))
		}
	}
}

func (v *verifier) check(ctx context.Context, j verifyJob) *tokenChecked {
	if bcrypt.CompareHashAndPassword([]byte(j.hash), []byte(j.req.Secret)) != nil {
		return &tokenChecked{req: j.req}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := v.store.SetTokenDigest(ctx, j.id, j.req.Digest[:], v.pepperID)
	return &tokenChecked{req: j.req, ok: err == nil, err: err}
}
