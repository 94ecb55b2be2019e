// Package devicetoken mints and checks device tokens. A token is
// "<device id>.<secret>": the id routes a heartbeat to its device actor, and
// the 256-bit secret is checked there against a keyed digest, so checking a
// token costs one HMAC and no database read.
package devicetoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/google/uuid"
)

// SecretLen is the length of an encoded secret: 32 bytes in unpadded base64url.
const SecretLen = 43

// Len is the length of a whole token.
const Len = 36 + 1 + SecretLen

// Tokens digests secrets with a pepper that lives outside the database, so
// a stolen database alone cannot be used to forge or check tokens.
type Tokens struct {
	pepperID string
	pool     sync.Pool // of hmac hashes keyed with the pepper
}

// New returns Tokens for a pepper.
func New(pepper []byte) *Tokens {
	sum := sha256.Sum256(pepper)
	t := &Tokens{pepperID: hex.EncodeToString(sum[:8])}
	key := append([]byte(nil), pepper...)
	t.pool.New = func() any { return hmac.New(sha256.New, key) }
	return t
}

// PepperID names the pepper without revealing it.
func (t *Tokens) PepperID() string { return t.pepperID }

// NewSecret returns a fresh random secret.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Format joins a device id and a secret into a token.
func Format(id uuid.UUID, secret string) string { return id.String() + "." + secret }

// Parse splits a token. It checks the shape only; whether the secret is
// right is the device actor's business.
func Parse(token []byte) (id uuid.UUID, secret []byte, ok bool) {
	if len(token) != Len || token[36] != '.' {
		return uuid.UUID{}, nil, false
	}
	id, err := uuid.ParseBytes(token[:36])
	if err != nil {
		return uuid.UUID{}, nil, false
	}
	secret = token[37:]
	for _, c := range secret {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return uuid.UUID{}, nil, false
		}
	}
	return id, secret, true
}

// Digest is HMAC-SHA256(pepper, secret).
func (t *Tokens) Digest(secret []byte) [32]byte {
	h := t.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(secret)
	var d [32]byte
	h.Sum(d[:0])
	t.pool.Put(h)
	return d
}
