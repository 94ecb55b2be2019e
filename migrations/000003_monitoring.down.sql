ALTER TABLE devices DROP CONSTRAINT IF EXISTS devices_monitor_needs_package;
