ALTER TABLE devices DROP COLUMN enroll_key_id;
