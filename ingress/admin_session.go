package ingress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// sessionResponse is what login and refresh answer.
type sessionResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    int         `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
	User         sessionUser `json:"user"`
}

type sessionUser struct {
	ID       uuid.UUID `json:"id"`
	Username string    `json:"username"`
	Role     string    `json:"role"`
}

func storeUnavailable() *Error {
	return &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
		Message: "the database did not answer; retry", RetryAfter: time.Second}
}

// lookupError answers a failed read of one thing: 404 naming it when it
// does not exist, 503 otherwise.
func lookupError(err error, what string, id fmt.Stringer) *Error {
	if errors.Is(err, persistence.ErrNotFound) {
		return errorf(fasthttp.StatusNotFound, "not_found", "no %s %s", what, id)
	}
	return storeUnavailable()
}

// login is POST /admin/auth/login {username, password}. Failures are
// throttled per address and per username, and checked before bcrypt runs.
func (s *Server) login(ctx *fasthttp.RequestCtx) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	req.Username = strings.ToLower(strings.TrimSpace(req.Username))
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > 1024 {
		writeError(ctx, errorf(fasthttp.StatusBadRequest, "invalid_credentials_format", "send a username and a password"))
		return
	}
	ip, now := ctx.RemoteIP().String(), s.now()
	for _, k := range []string{"ip:" + ip, "user:" + req.Username} {
		if wait, blocked := s.loginFail.blocked(k, now); blocked {
			s.auditAs(ctx, "user:"+req.Username, "auth.login", req.Username, "rate_limited", nil)
			writeError(ctx, &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many failed logins; wait for Retry-After", RetryAfter: wait})
			return
		}
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := s.deps.Users.ByUsername(c, req.Username)
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		writeError(ctx, storeUnavailable())
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordBcrypt
	}
	s.bcrypt <- struct{}{}
	ok := adminauth.CheckPassword(hash, req.Password)
	<-s.bcrypt
	if !ok {
		s.loginFail.fail("ip:"+ip, now)
		s.loginFail.fail("user:"+req.Username, now)
		s.auditAs(ctx, "user:"+req.Username, "auth.login", req.Username, "invalid_credentials", nil)
		writeError(ctx, errorf(fasthttp.StatusUnauthorized, "invalid_credentials", "the username or password is wrong"))
		return
	}
	resp, e := s.newSession(c, u)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.auditAs(ctx, "user:"+u.Username, "auth.login", u.Username, "ok", nil)
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// newSession starts a session: a new refresh token family.
func (s *Server) newSession(c context.Context, u *pgstore.User) (*sessionResponse, *Error) {
	refresh, digest := s.deps.Sessions.NewRefreshToken()
	err := s.deps.Users.IssueRefresh(c, pgstore.RefreshToken{
		ID: uuid.New(), UserID: u.ID, Family: uuid.New(), Digest: digest, ExpiresAt: s.now().Add(s.deps.Sessions.RefreshTTL),
	})
	if err != nil {
		return nil, storeUnavailable()
	}
	return s.sessionAnswer(u, refresh)
}

// sessionAnswer signs an access token for u and pairs it with refresh.
func (s *Server) sessionAnswer(u *pgstore.User, refresh string) (*sessionResponse, *Error) {
	now := s.now()
	access, exp, err := s.deps.Sessions.IssueAccess(u.ID, u.Username, u.Role, now)
	if err != nil {
		return nil, errorf(fasthttp.StatusInternalServerError, "internal", "could not sign the session")
	}
	return &sessionResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(exp.Sub(now).Seconds()), RefreshToken: refresh,
		User: sessionUser{ID: u.ID, Username: u.Username, Role: u.Role},
	}, nil
}

func readRefreshToken(ctx *fasthttp.RequestCtx) (string, *Error) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		return "", e
	}
	if !adminauth.IsRefreshToken(req.RefreshToken) {
		return "", fieldError("refresh_token", "is not a refresh token (nxr_…)")
	}
	return req.RefreshToken, nil
}

// refresh is POST /admin/auth/refresh {refresh_token}: it answers a new
// access token and a new refresh token, and the old one stops working. A
// rotated token presented again revokes every token of its session.
func (s *Server) refresh(ctx *fasthttp.RequestCtx) {
	old, e := readRefreshToken(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next, digest := s.deps.Sessions.NewRefreshToken()
	now := s.now()
	userID, err := s.deps.Users.RotateRefresh(c, s.deps.Sessions.Digest(old), pgstore.RefreshToken{
		ID: uuid.New(), Digest: digest, ExpiresAt: now.Add(s.deps.Sessions.RefreshTTL),
	}, now)
	switch {
	case errors.Is(err, pgstore.ErrTokenReused):
		s.auditAs(ctx, "user-id:"+userID.String(), "auth.refresh", userID.String(), "refresh_reused", nil)
		writeError(ctx, errorf(fasthttp.StatusUnauthorized, "refresh_reused",
			"this refresh token was already used; every token of the session is revoked; log in again"))
		return
	case errors.Is(err, pgstore.ErrTokenExpired), errors.Is(err, pgstore.ErrNotFound):
		writeError(ctx, errorf(fasthttp.StatusUnauthorized, "invalid_refresh_token", "the refresh token is unknown, expired or revoked; log in again"))
		return
	case err != nil:
		writeError(ctx, storeUnavailable())
		return
	}
	u, err := s.deps.Users.ByID(c, userID)
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusUnauthorized, "invalid_refresh_token", "the user of this session no longer exists"))
		return
	}
	resp, e := s.sessionAnswer(u, next)
	if e != nil {
		writeError(ctx, e)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// logout is POST /admin/auth/logout {refresh_token}: the session's refresh
// tokens are revoked; its access token lapses within its short expiry.
func (s *Server) logout(ctx *fasthttp.RequestCtx) {
	tok, e := readRefreshToken(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	userID, err := s.deps.Users.RevokeRefresh(c, s.deps.Sessions.Digest(tok), s.now())
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		writeError(ctx, storeUnavailable())
		return
	}
	if err == nil {
		s.auditAs(ctx, "user-id:"+userID.String(), "auth.logout", userID.String(), "ok", nil)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// me is GET /admin/auth/me: who the caller is and what it may do.
func (s *Server) me(ctx *fasthttp.RequestCtx) {
	p := principal(ctx)
	perms := []adminauth.Permission{}
	for _, perm := range []adminauth.Permission{adminauth.Read, adminauth.Command, adminauth.Enroll, adminauth.APKWrite, adminauth.Manage} {
		if p.Can(perm) {
			perms = append(perms, perm)
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"kind": p.Kind, "name": p.Name, "role": p.Role, "scopes": p.Scopes, "permissions": perms,
	})
}
