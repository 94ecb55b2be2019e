-- The fleet's agent versions over time: how many devices reported each
-- version, sampled from memory every NEXMDM_VERSION_SAMPLE_EVERY. Release
-- adoption charts read it. Kept 90 days.
CREATE TABLE agent_version_samples (
    at           timestamptz NOT NULL,
    version_code integer NOT NULL,
    devices      integer NOT NULL,
    PRIMARY KEY (at, version_code)
);
