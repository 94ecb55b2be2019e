package ingress

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

func pathID(ctx *fasthttp.RequestCtx, what string) (uuid.UUID, *Error) {
	raw, _ := ctx.UserValue("id").(string)
	id, err := uuid.Parse(raw)
	if err != nil {
		return id, errorf(fasthttp.StatusBadRequest, "invalid_id", "%q is not a %s id (a UUID)", raw, what)
	}
	return id, nil
}

func dbContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// listUsers is GET /admin/users.
func (s *Server) listUsers(ctx *fasthttp.RequestCtx) {
	c, cancel := dbContext()
	defer cancel()
	users, err := s.deps.Users.List(c)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"users": users})
}

// createUser is POST /admin/users {username, password, role}.
func (s *Server) createUser(ctx *fasthttp.RequestCtx) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	u, e := NewUser(req.Username, req.Password, req.Role, principal(ctx).Actor(), s.cfg.BcryptCost, s.now())
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	err := s.deps.Users.Create(c, u)
	if errors.Is(err, pgstore.ErrExists) {
		s.audit(ctx, "user.create", u.Username, "exists", nil)
		writeError(ctx, &Error{Status: fasthttp.StatusConflict, Code: "user_exists", Field: "username",
			Message: "a user named " + u.Username + " exists"})
		return
	}
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "user.create", u.Username, "ok", map[string]any{"role": u.Role})
	writeJSON(ctx, fasthttp.StatusCreated, u)
}

// NewUser checks a new user's fields and hashes the password at cost.
func NewUser(username, password, role, by string, cost int, now time.Time) (*pgstore.User, *Error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if !usernamePattern.MatchString(username) {
		return nil, fieldError("username", "must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	if !adminauth.ValidRole(role) {
		return nil, fieldError("role", "must be admin, operator or viewer")
	}
	hash, err := adminauth.HashPassword(password, cost)
	if err != nil {
		return nil, fieldError("password", "%v", err)
	}
	return &pgstore.User{ID: uuid.New(), Username: username, Role: role, PasswordBcrypt: hash, CreatedAt: now, CreatedBy: by}, nil
}

// updateUser is PATCH /admin/users/{id} {role, password}: either or both.
// A new password ends the user's sessions (their refresh tokens).
func (s *Server) updateUser(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "user")
	if e != nil {
		writeError(ctx, e)
		return
	}
	var req struct {
		Role     *string `json:"role"`
		Password *string `json:"password"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	var change pgstore.UserChange
	details := map[string]any{"password_changed": req.Password != nil} // never the password
	switch {
	case req.Role == nil && req.Password == nil:
		writeError(ctx, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "role",
			Message: "send role, password or both"})
		return
	case req.Role != nil && !adminauth.ValidRole(*req.Role):
		writeError(ctx, fieldError("role", "must be admin, operator or viewer"))
		return
	case req.Role != nil:
		change.Role, details["role"] = req.Role, *req.Role
	}
	if req.Password != nil {
		s.bcrypt <- struct{}{}
		hash, err := adminauth.HashPassword(*req.Password, s.cfg.BcryptCost)
		<-s.bcrypt
		if err != nil {
			writeError(ctx, fieldError("password", "%v", err))
			return
		}
		change.PasswordBcrypt = &hash
	}
	c, cancel := dbContext()
	defer cancel()
	s.finishByID(ctx, "user.update", id, s.deps.Users.Update(c, id, change, s.now()), details)
}

// deleteUser is DELETE /admin/users/{id}; nobody deletes themselves.
func (s *Server) deleteUser(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "user")
	if e != nil {
		writeError(ctx, e)
		return
	}
	if p := principal(ctx); p.Kind == "user" && p.ID == id {
		writeError(ctx, errorf(fasthttp.StatusConflict, "cannot_delete_self", "you cannot delete your own user; ask another admin"))
		return
	}
	c, cancel := dbContext()
	defer cancel()
	s.finishByID(ctx, "user.delete", id, s.deps.Users.Delete(c, id), nil)
}

// finishByID answers and audits a change to one row by id.
func (s *Server) finishByID(ctx *fasthttp.RequestCtx, action string, id uuid.UUID, err error, details map[string]any) {
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		s.audit(ctx, action, id.String(), "not_found", details)
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_found", "no %s %s", strings.Split(action, ".")[0], id))
	case err != nil:
		writeError(ctx, storeUnavailable())
	default:
		s.audit(ctx, action, id.String(), "ok", details)
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"id": id.String(), "result": "ok"})
	}
}

// listAPIKeys is GET /admin/keys.
func (s *Server) listAPIKeys(ctx *fasthttp.RequestCtx) {
	c, cancel := dbContext()
	defer cancel()
	keys, err := s.deps.APIKeys.List(c)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"api_keys": keys})
}

// createAPIKey is POST /admin/keys {name, scopes, expires_in_hours}.
// The key is in the answer once and never again.
func (s *Server) createAPIKey(ctx *fasthttp.RequestCtx) {
	var req struct {
		Name           string   `json:"name"`
		Scopes         []string `json:"scopes"`
		ExpiresInHours int      `json:"expires_in_hours"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		writeError(ctx, fieldError("name", "must be 1-100 characters"))
		return
	}
	if len(req.Scopes) == 0 {
		writeError(ctx, fieldError("scopes", "must list at least one of enroll, apk:write, admin"))
		return
	}
	for _, sc := range req.Scopes {
		if !adminauth.ValidScope(sc) {
			writeError(ctx, fieldError("scopes", "%q is not a scope; use enroll, apk:write or admin", sc))
			return
		}
	}
	if req.ExpiresInHours < 0 || req.ExpiresInHours > 24*366 {
		writeError(ctx, fieldError("expires_in_hours", "must be 0 (never) to 8784 (a year)"))
		return
	}
	key, prefix, digest := s.deps.Sessions.NewAPIKey()
	k := &pgstore.APIKey{ID: uuid.New(), Name: req.Name, Prefix: prefix, Digest: digest, Scopes: req.Scopes,
		CreatedAt: s.now(), CreatedBy: principal(ctx).Actor()}
	if req.ExpiresInHours > 0 {
		exp := k.CreatedAt.Add(time.Duration(req.ExpiresInHours) * time.Hour)
		k.ExpiresAt = &exp
	}
	c, cancel := dbContext()
	defer cancel()
	if err := s.deps.APIKeys.Create(c, k); err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "api_key.create", k.ID.String(), "ok", map[string]any{"name": k.Name, "scopes": k.Scopes})
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"api_key": k, "key": key})
}

// revokeAPIKey is DELETE /admin/keys/{id}.
func (s *Server) revokeAPIKey(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "API key")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	s.finishByID(ctx, "api_key.revoke", id, s.deps.APIKeys.Revoke(c, id, s.now()), nil)
}
