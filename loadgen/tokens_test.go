package loadgen

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func enrollerFor(t *testing.T, s *fakeServer) *Enroller {
	return &Enroller{Client: s.client(t), AdminKey: "k", Prefix: "sim", Concurrency: 4}
}

// A second run reuses the devices the first one enrolled; a bigger fleet
// enrolls only the devices it lacks.
func TestFleetReusesTheTokensOfAnEarlierRun(t *testing.T) {
	s := newFakeServer(t)
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	ctx := context.Background()

	first, err := enrollerFor(t, s).Fleet(ctx, path, 30, nil)
	require.NoError(t, err)
	require.Len(t, first, 30)
	assert.Len(t, s.registered, 30)
	for i, c := range first {
		assert.Equal(t, SerialOf("sim", i), c.Serial, "credentials come back in serial order")
		assert.NotEmpty(t, c.Token)
	}

	again, err := enrollerFor(t, s).Fleet(ctx, path, 30, func(Credential) bool { return true })
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Len(t, s.registered, 30, "nothing was enrolled again")

	fewer, err := enrollerFor(t, s).Fleet(ctx, path, 10, nil)
	require.NoError(t, err)
	assert.Equal(t, first[:10], fewer)

	more, err := enrollerFor(t, s).Fleet(ctx, path, 45, nil)
	require.NoError(t, err)
	assert.Equal(t, first, more[:30])
	assert.Len(t, s.registered, 45, "only the 15 missing devices were enrolled")
	var missing []string
	for i := 30; i < 45; i++ {
		missing = append(missing, SerialOf("sim", i))
	}
	assert.ElementsMatch(t, missing, s.registered[30:])

	saved, err := LoadTokens(path)
	require.NoError(t, err)
	assert.Equal(t, more, saved, "the file holds the whole fleet")
}

// Tokens a server no longer knows (its database was reset) are replaced by
// enrolling the fleet again.
func TestFleetEnrollsAgainWhenTheTokensAreStale(t *testing.T) {
	s := newFakeServer(t)
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	ctx := context.Background()
	old, err := enrollerFor(t, s).Fleet(ctx, path, 5, nil)
	require.NoError(t, err)

	var probed []Credential
	fresh, err := enrollerFor(t, s).Fleet(ctx, path, 5, func(c Credential) bool { probed = append(probed, c); return false })
	require.NoError(t, err)
	assert.Equal(t, []Credential{old[0]}, probed, "one probe decides")
	assert.Len(t, s.registered, 10)
	for i := range fresh {
		assert.NotEqual(t, old[i].Token, fresh[i].Token)
	}
}

// A tokens file of another fleet (another serial prefix) is not used.
func TestFleetIgnoresAnotherPrefixsTokens(t *testing.T) {
	s := newFakeServer(t)
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	require.NoError(t, SaveTokens(path, []Credential{{Serial: "other-000000", DeviceID: "x", Token: "y"}}))
	creds, err := enrollerFor(t, s).Fleet(context.Background(), path, 2, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"sim-000000", "sim-000001"}, []string{creds[0].Serial, creds[1].Serial})
	assert.Len(t, s.registered, 2)
}

// A damaged tokens file is an error that names the line, not a silent re-enrolment.
func TestDamagedTokensFileNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"serial\":\"a\",\"token\":\"b\"}\nnot json\n"), 0o600))
	_, err := LoadTokens(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tokens.jsonl:2")
}

// A registration the server refuses for good stops enrolment with the
// reason, and saves nothing.
func TestEnrollStopsOnARefusal(t *testing.T) {
	s := newFakeServer(t)
	e := enrollerFor(t, s)
	e.AdminKey = "wrong"
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	_, err := e.Fleet(context.Background(), path, 3, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.NoFileExists(t, path)
}
