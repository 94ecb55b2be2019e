-- A bulk command of 10,000 wrote about 10 MB of WAL, and 30 MB right after
-- a checkpoint, which heartbeat commits then waited behind:
--  * the foreign key to devices key-share locked every target's row, a WAL
--    record each and, after a checkpoint, a full image of every devices page
--    touched (half of those 30 MB);
--  * every command's first event, `queued`, was a row with two index
--    entries and a lock on its command, though the command row already
--    says when (issued_at) and by whom (created_by).
-- Commands now refer to devices without a constraint: a device delete
-- removes its commands itself, and it and Commands.Create exclude each
-- other with an advisory lock (persistence/pgstore), so no command is left
-- for a deleted device. The queued event is read from the command row.
ALTER TABLE commands DROP CONSTRAINT commands_device_id_fkey;
DELETE FROM command_events WHERE status = 'queued';
