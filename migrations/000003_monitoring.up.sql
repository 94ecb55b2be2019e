-- Monitoring can only be enabled for a named package, whichever way the
-- settings were written (one device or a bulk update).
ALTER TABLE devices ADD CONSTRAINT devices_monitor_needs_package
    CHECK (NOT monitor_enabled OR monitored_package <> '');
