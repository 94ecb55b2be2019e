package actors

import (
	"context"

	"github.com/google/uuid"
)

// UpdateFacts are what an update check needs from a device's actor: is the
// token the device's, and which agent version does it run now.
type UpdateFacts struct {
	Outcome     Outcome // Stored: the token is the device's
	VersionCode int     // from the newest heartbeat; 0 when it never said
}

type updateQuery struct {
	digest [32]byte
	reply  chan UpdateFacts
}

func (a *deviceActor) updateFacts(digest *[32]byte) UpdateFacts {
	f := UpdateFacts{Outcome: a.authorize(digest)}
	if f.Outcome == Stored {
		f.VersionCode = int(a.st.live.AgentVersionCode)
	}
	return f
}

// UpdateFacts asks a device's actor for its update facts, from memory.
// Like Heartbeat, it runs an idle actor on this goroutine: hold no lock.
func (d *Directory) UpdateFacts(ctx context.Context, device uuid.UUID, digest [32]byte) (UpdateFacts, error) {
	q := &updateQuery{digest: digest, reply: make(chan UpdateFacts, 1)}
	if err := d.route(device, q, true); err != nil {
		return UpdateFacts{Outcome: Unauthorized}, err
	}
	select {
	case f := <-q.reply:
		return f, nil
	case <-ctx.Done():
		return UpdateFacts{Outcome: Busy}, ctx.Err()
	}
}
