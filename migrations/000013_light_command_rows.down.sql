-- Restored queued events get ids after their commands' later events.
DELETE FROM commands c WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = c.device_id);
ALTER TABLE commands ADD CONSTRAINT commands_device_id_fkey
    FOREIGN KEY (device_id) REFERENCES devices (id) ON DELETE CASCADE;
INSERT INTO command_events (command_id, at, status, detail)
    SELECT id, issued_at, 'queued', 'by ' || created_by FROM commands;
