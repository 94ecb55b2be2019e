ALTER TABLE device_last_status ALTER COLUMN app_last_foreground TYPE jsonb USING app_last_foreground::jsonb;
