package actors_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
)

// A fleet coming back cold, with no actors (right after enrolment, or back
// after longer away than the warm window), is hydrated in batches: each
// heartbeat is stored once by one actor per device, and the devices'
// records are read far fewer times than there are devices.
func TestAColdFleetIsHydratedInBatches(t *testing.T) {
	f := newFixture(t)
	const n = 400
	ids, secrets := f.enrollMany(t, "cold", n)
	require.Zero(t, f.dir.Live())
	before := f.loads.Load()

	answers := f.heartbeatAll(t, ids, secrets, f.clock.Now())()

	for i, a := range answers {
		assert.Equal(t, actors.Stored, a.outcome, "device %d", i)
	}
	assert.Equal(t, n, f.dir.Live(), "one actor per device")
	assert.Equal(t, n, f.storedHeartbeats(t))
	loads := f.loads.Load() - before
	assert.Less(t, loads, int64(n/4), "records are read a batch at a time, not a device at a time")
	t.Logf("%d devices hydrated with %d reads", n, loads)
}
