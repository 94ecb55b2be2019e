DROP TABLE IF EXISTS command_events;
DROP TABLE IF EXISTS commands;
