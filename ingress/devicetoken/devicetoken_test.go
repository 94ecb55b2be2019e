package devicetoken

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenRoundTrip(t *testing.T) {
	id := uuid.New()
	secret, err := NewSecret()
	require.NoError(t, err)
	require.Len(t, secret, SecretLen)
	tok := Format(id, secret)
	require.Len(t, tok, Len)

	gotID, gotSecret, ok := Parse([]byte(tok))
	require.True(t, ok)
	assert.Equal(t, id, gotID)
	assert.Equal(t, secret, string(gotSecret))
}

func TestParseRejectsMalformedTokens(t *testing.T) {
	id := uuid.NewString()
	for _, tok := range []string{
		"", "garbage", id, id + ".", id + "." + strings.Repeat("A", 42),
		id + "." + strings.Repeat("A", 44), id + "." + strings.Repeat("A", 42) + "=",
		id + "." + strings.Repeat("A", 42) + "/", "not-a-uuid-not-a-uuid-not-a-uuid-xxx." + strings.Repeat("A", 43),
		strings.Replace(id, "-", ".", 1) + "." + strings.Repeat("A", 43),
	} {
		_, _, ok := Parse([]byte(tok))
		assert.False(t, ok, "Parse(%q)", tok)
	}
}

func TestDigestDependsOnPepperAndSecret(t *testing.T) {
	a, b := New([]byte("pepper-a")), New([]byte("pepper-b"))
	assert.Equal(t, a.Digest([]byte("s1")), a.Digest([]byte("s1")))
	assert.NotEqual(t, a.Digest([]byte("s1")), a.Digest([]byte("s2")))
	assert.NotEqual(t, a.Digest([]byte("s1")), b.Digest([]byte("s1")))
	assert.NotEqual(t, a.PepperID(), b.PepperID())
	assert.NotContains(t, a.PepperID(), "pepper", "the id does not reveal the pepper")
}
