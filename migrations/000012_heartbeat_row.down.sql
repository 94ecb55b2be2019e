DROP TYPE heartbeat_row;
