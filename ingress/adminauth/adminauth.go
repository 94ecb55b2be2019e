// Package adminauth is who may do what on the admin API: users' roles and
// API keys' scopes mapped to permissions, short-lived JWT access tokens,
// rotating refresh tokens, API key secrets, and passwords. It holds no
// state; ingress keeps the rows through pgstore.
package adminauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// Roles of admin users.
const (
	RoleAdmin    = "admin"    // everything
	RoleOperator = "operator" // read, send commands, enroll; no deleting, no users or keys
	RoleViewer   = "viewer"   // read only
)

// Scopes of API keys.
const (
	ScopeEnroll   = "enroll"
	ScopeAPKWrite = "apk:write"
	ScopeAdmin    = "admin"
)

// Permission is what a route needs.
type Permission string

// Permissions, from least to most powerful.
const (
	Read     Permission = "read"      // see devices, fleet, history
	Command  Permission = "command"   // send commands, change monitoring
	Enroll   Permission = "enroll"    // register devices, mint enrollment scripts
	APKWrite Permission = "apk:write" // register and upload builds
	Manage   Permission = "manage"    // delete devices, manage users, keys, releases; read the audit log
)

var rolePermits = map[string][]Permission{
	RoleAdmin:    {Read, Command, Enroll, APKWrite, Manage},
	RoleOperator: {Read, Command, Enroll},
	RoleViewer:   {Read},
}

var scopePermits = map[string][]Permission{
	ScopeAdmin:    {Read, Command, Enroll, APKWrite, Manage},
	ScopeEnroll:   {Enroll},
	ScopeAPKWrite: {APKWrite},
}

// ValidRole reports whether role exists.
func ValidRole(role string) bool { _, ok := rolePermits[role]; return ok }

// ValidScope reports whether scope exists.
func ValidScope(scope string) bool { _, ok := scopePermits[scope]; return ok }

// Principal is who is calling.
type Principal struct {
	Kind   string    // "user", "key" or "admin-key"
	ID     uuid.UUID // user or key id
	Name   string    // username or key name
	Role   string    // users
	Scopes []string  // keys

	ExpiresAt time.Time // when the credential stops working; zero: not known here
}

// AdminKeyPrincipal is NEXMDM_ADMIN_KEY's caller.
var AdminKeyPrincipal = &Principal{Kind: "admin-key", Name: "admin-key", Scopes: []string{ScopeAdmin}}

// Actor names the principal in the audit log.
func (p *Principal) Actor() string {
	switch p.Kind {
	case "user":
		return "user:" + p.Name
	case "key":
		return "key:" + p.Name
	}
	return p.Kind
}

// Can reports whether the principal holds a permission.
func (p *Principal) Can(perm Permission) bool {
	if p.Kind == "user" {
		return slices.Contains(rolePermits[p.Role], perm)
	}
	for _, s := range p.Scopes {
		if slices.Contains(scopePermits[s], perm) {
			return true
		}
	}
	return false
}

// Sessions issues and checks access and refresh tokens.
type Sessions struct {
	signKey    []byte // JWT HMAC key
	digestKey  []byte // keys the digests of refresh tokens and API keys
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// NewSessions derives its keys from the JWT secret.
func NewSessions(secret string) *Sessions {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return &Sessions{
		signKey: derive("nexmdm jwt v1"), digestKey: derive("nexmdm token digest v1"),
		AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour,
	}
}

const issuer = "nexmdm"

// Claims are an access token's.
type Claims struct {
	Username string `json:"usr"`
	Role     string `json:"role"`
	jwt.RegisteredClaims
}

// IssueAccess signs an access token for a user.
func (s *Sessions) IssueAccess(id uuid.UUID, username, role string, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.AccessTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		Username: username, Role: role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: id.String(), ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	signed, err := tok.SignedString(s.signKey)
	return signed, exp, err
}

// ErrInvalidToken covers every reason an access token is refused.
var ErrInvalidToken = errors.New("invalid access token")

// ParseAccess checks an access token: HS256 only (so never alg:none), our
// issuer, not expired. It returns the user it speaks for.
func (s *Sessions) ParseAccess(token string, now time.Time) (*Principal, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.signKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil || !ValidRole(c.Role) {
		return nil, fmt.Errorf("%w: bad subject or role", ErrInvalidToken)
	}
	return &Principal{Kind: "user", ID: id, Name: c.Username, Role: c.Role, ExpiresAt: c.ExpiresAt.Time}, nil
}

// Secret prefixes tell the kinds of bearer secrets apart.
const (
	refreshPrefix = "nxr_"
	apiKeyPrefix  = "nxk_"
)

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// Digest is the keyed digest a refresh token or API key is stored as. The
// secrets are 256-bit random, so a keyed SHA-256 protects them at rest
// while costing a microsecond per request, where bcrypt would cost 50 ms.
func (s *Sessions) Digest(secret string) []byte {
	m := hmac.New(sha256.New, s.digestKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// NewRefreshToken returns a refresh token and its digest.
func (s *Sessions) NewRefreshToken() (string, []byte) {
	t := refreshPrefix + randomToken(32)
	return t, s.Digest(t)
}

// IsRefreshToken reports whether t looks like a refresh token.
func IsRefreshToken(t string) bool {
	return strings.HasPrefix(t, refreshPrefix) && len(t) == len(refreshPrefix)+43
}

// NewAPIKey returns a key `nxk_<prefix>_<secret>`, its prefix and digest.
func (s *Sessions) NewAPIKey() (key, prefix string, digest []byte) {
	prefix = randomToken(6)
	key = apiKeyPrefix + prefix + "_" + randomToken(32)
	return key, prefix, s.Digest(key)
}

// APIKeyPrefix returns the prefix of a well-formed API key.
func APIKeyPrefix(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok || len(rest) != 8+1+43 || rest[8] != '_' {
		return "", false
	}
	return rest[:8], true
}

// DigestEqual compares digests in constant time.
func DigestEqual(a, b []byte) bool { return hmac.Equal(a, b) }

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// HashPassword hashes a password for storage.
func HashPassword(pw string, cost int) (string, error) {
	if len(pw) < MinPasswordLen {
		return "", fmt.Errorf("a password needs at least %d characters", MinPasswordLen)
	}
	if len(pw) > 72 {
		return "", errors.New("a password may have at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	return string(h), err
}

// dummyHash is compared against when the user does not exist, so that a
// login takes as long whether or not the username is real.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("nexmdm-no-such-user-password"), bcrypt.DefaultCost)

// CheckPassword reports whether pw matches hash; with an empty hash it
// spends the same time and returns false.
func CheckPassword(hash, pw string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// NewPassword returns a random password for a bootstrap admin.
func NewPassword() string { return randomToken(18) }
