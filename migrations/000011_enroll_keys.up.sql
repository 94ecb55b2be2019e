-- The enroll key a device last registered with: an enrollment script mints
-- one key per device, so its step 9 asks whether its device has registered
-- with it.
ALTER TABLE devices ADD COLUMN enroll_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX devices_enroll_key_id ON devices (enroll_key_id) WHERE enroll_key_id IS NOT NULL;
