DROP TABLE alert_rules;
DROP TABLE alert_channels;
DROP TABLE alerts;
