DROP TABLE agent_version_samples;
