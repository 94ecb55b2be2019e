DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS heartbeats;
DROP TABLE IF EXISTS device_last_status;
DROP TABLE IF EXISTS device_tombstones;
DROP TABLE IF EXISTS devices;
