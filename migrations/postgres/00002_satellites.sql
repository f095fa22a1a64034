-- +goose Up
-- The satellite protocol (docs/protocol.md, docs/decisions/0050-0053).

-- registration_tokens holds one row per issued registration JWT (id = the JWT's jti). The JWT
-- proves the token was issued here; the row carries what can change: uses left and revocation.
CREATE TABLE registration_tokens (
    id           TEXT PRIMARY KEY,
    team_id      TEXT REFERENCES teams(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    uses_allowed INTEGER NOT NULL CHECK (uses_allowed > 0),
    uses_left    INTEGER NOT NULL CHECK (uses_left >= 0),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX registration_tokens_team_idx ON registration_tokens(team_id);

-- satellites are the registered ground-station runners. api_key_id is the public part of the
-- current API key; only an argon2id hash of its secret is stored. offline_after is the moment
-- the satellite counts as offline without a new heartbeat (last_seen + 2.5 heartbeat intervals),
-- so the sweep is one indexed comparison on both dialects.
CREATE TABLE satellites (
    id                TEXT PRIMARY KEY,
    team_id           TEXT REFERENCES teams(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    lat               DOUBLE PRECISION NOT NULL DEFAULT 0,
    lon               DOUBLE PRECISION NOT NULL DEFAULT 0,
    alt_m             DOUBLE PRECISION NOT NULL DEFAULT 0,
    version           TEXT NOT NULL DEFAULT '',
    capabilities      TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL,
    maintenance       BOOLEAN NOT NULL DEFAULT FALSE,
    api_key_id        TEXT NOT NULL UNIQUE,
    api_key_hash      TEXT NOT NULL,
    heartbeat_seconds INTEGER NOT NULL,
    registered_at     TIMESTAMPTZ NOT NULL,
    key_rotated_at    TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ,
    offline_after     TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX satellites_team_idx ON satellites(team_id);
CREATE INDEX satellites_offline_idx ON satellites(offline_after);

-- satellite_commands is the queue. priority_rank (0 immediate .. 3 low) orders delivery; ids are
-- UUIDv7, so (priority_rank, created_at, id) is "highest priority, then oldest".
CREATE TABLE satellite_commands (
    id               TEXT PRIMARY KEY,
    satellite_id     TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    team_id          TEXT NOT NULL DEFAULT '',
    type             TEXT NOT NULL,
    priority         TEXT NOT NULL,
    priority_rank    INTEGER NOT NULL,
    payload          TEXT,
    correlation_id   TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    lease_expires_at TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    result           TEXT,
    error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX satellite_commands_queue_idx ON satellite_commands(satellite_id, status, priority_rank, created_at);
CREATE INDEX satellite_commands_expiry_idx ON satellite_commands(status, expires_at);

CREATE TABLE satellite_heartbeats (
    id             TEXT PRIMARY KEY,
    satellite_id   TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    received_at    TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL,
    version        TEXT NOT NULL DEFAULT '',
    uptime_seconds BIGINT NOT NULL DEFAULT 0,
    cpu_percent    DOUBLE PRECISION NOT NULL DEFAULT 0,
    memory_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
    disk_percent   DOUBLE PRECISION NOT NULL DEFAULT 0,
    report         TEXT NOT NULL
);
CREATE INDEX satellite_heartbeats_sat_idx ON satellite_heartbeats(satellite_id, received_at);
CREATE INDEX satellite_heartbeats_age_idx ON satellite_heartbeats(received_at);

-- satellite_events: (satellite_id, event_id) is unique, so a retried batch inserts nothing twice.
CREATE TABLE satellite_events (
    id             TEXT PRIMARY KEY,
    satellite_id   TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    event_id       TEXT NOT NULL,
    type           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    time           TIMESTAMPTZ NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL,
    message        TEXT NOT NULL DEFAULT '',
    data           TEXT,
    command_id     TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    UNIQUE (satellite_id, event_id)
);
CREATE INDEX satellite_events_sat_idx ON satellite_events(satellite_id, id);
CREATE INDEX satellite_events_age_idx ON satellite_events(received_at);

-- +goose Down
DROP TABLE satellite_events;
DROP TABLE satellite_heartbeats;
DROP TABLE satellite_commands;
DROP TABLE satellites;
DROP TABLE registration_tokens;
