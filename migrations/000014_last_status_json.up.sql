-- app_last_foreground is stored as json, as the device sent it (ingress has
-- already checked it is an object of package names to unix milliseconds),
-- rather than as jsonb: converting it on every heartbeat's last-status
-- upsert was about 6 % of PostgreSQL's CPU per row, and nothing queries
-- inside it. Cast it to jsonb to query it.
ALTER TABLE device_last_status ALTER COLUMN app_last_foreground TYPE json USING app_last_foreground::json;
