-- Admin users, their refresh tokens, and named API keys with scopes.

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    username        text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    password_bcrypt text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL
);

-- A refresh token is stored as a keyed digest of its secret. Each refresh
-- rotates it: the old row is marked rotated and a new one joins its family.
-- Presenting a rotated token again means it was stolen: the family is revoked.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      uuid NOT NULL,
    digest      bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- API keys: `nxk_<prefix>_<secret>`; the prefix finds the row, the keyed
-- digest of the whole key proves it.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    digest       bytea NOT NULL,
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['enroll', 'apk:write', 'admin'] AND cardinality(scopes) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX audit_log_actor_at ON audit_log (actor, at DESC);
CREATE INDEX audit_log_target_at ON audit_log (target, at DESC);
