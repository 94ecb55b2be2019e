DROP INDEX IF EXISTS audit_log_target_at;
DROP INDEX IF EXISTS audit_log_actor_at;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS users;
