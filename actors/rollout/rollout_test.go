package rollout

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCohortIsDeterministicAndRaisingThePercentOnlyAddsDevices(t *testing.T) {
	release := uuid.New()
	devices := make([]uuid.UUID, 100_000)
	for i := range devices {
		devices[i] = uuid.New()
	}
	in10 := 0
	for _, d := range devices {
		a := InCohort(release, d, 10)
		assert.Equal(t, a, InCohort(release, d, 10), "the same device gets the same answer")
		if a {
			in10++
			require.True(t, InCohort(release, d, 20), "raising 10%% to 20%% keeps the first 10%%")
		}
	}
	assert.InDelta(t, 10_000, in10, 1_500, "about 10%% of 100,000 devices")
	for _, pct := range []int{1, 25, 50, 99} {
		n := 0
		for _, d := range devices {
			if InCohort(release, d, pct) {
				n++
			}
		}
		assert.InDelta(t, pct*1000, n, 1_500, "%d%% of 100,000 devices within ±1.5%%", pct)
	}
	for _, d := range devices[:1000] {
		assert.True(t, InCohort(release, d, 100))
		assert.False(t, InCohort(release, d, 0))
	}
}

func TestTheSlotMatchesDesignsFormula(t *testing.T) {
	// Computed independently: python3 -c "import hashlib; h = hashlib.sha256(
	// b'00000000-0000-0000-0000-000000000001:00000000-0000-0000-0000-000000000002').digest();
	// print(int.from_bytes(h[:8], 'big') % 100)" prints 4.
	release := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	device := uuid.MustParse("00000000-0000-0000-0000-000000000002")
	assert.Equal(t, uint64(4), Slot(release, device))
}

func newBook(r Release) *Book {
	b := &Book{}
	b.Set([]Release{r})
	return b
}

func TestOffersGoOnlyToCohortDevicesOnOlderVersions(t *testing.T) {
	r := Release{ID: uuid.New(), Channel: "stable", Active: true, Percent: 100, BuildID: uuid.New(), VersionCode: 20, SHA256: "ab"}
	b := newBook(r)
	d := uuid.New()
	o, ok := b.Offer("stable", d, 10)
	require.True(t, ok)
	assert.Equal(t, 20, o.VersionCode)
	assert.Equal(t, "/v1/agent/download/"+r.BuildID.String(), o.URL)
	_, ok = b.Offer("stable", d, 0)
	assert.True(t, ok, "a device that never reported a version is offered")
	_, ok = b.Offer("stable", d, 20)
	assert.False(t, ok, "already on it")
	_, ok = b.Offer("stable", d, 30)
	assert.False(t, ok, "never a downgrade")
	_, ok = b.Offer("beta", d, 10)
	assert.False(t, ok, "another channel has no release")

	r.AllowDowngrade = true
	_, ok = newBook(r).Offer("stable", d, 30)
	assert.True(t, ok, "a rollback that allows it takes devices back")

	r.Active = false
	_, ok = newBook(r).Offer("stable", d, 10)
	assert.False(t, ok, "paused")
}
