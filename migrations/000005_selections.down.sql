DROP TABLE IF EXISTS device_selections;
