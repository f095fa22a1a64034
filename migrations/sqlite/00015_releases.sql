-- +goose Up
-- Release artifacts of talos-satellite for runner.update (docs/operations.md "Releasing an
-- update", decision 0103). The bytes live in the data directory (releases/<id>); the row holds
-- what was verified at upload and the operator's offline ed25519 signature.
CREATE TABLE releases (
    id         TEXT PRIMARY KEY,
    version    TEXT NOT NULL,
    os         TEXT NOT NULL,
    arch       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    signature  TEXT NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at DATETIME NOT NULL,
    UNIQUE (version, os, arch)
);

-- Staged rollouts of a release over a set of stations (decision 0104): stages are percentages
-- (JSON list), advanced by one replica at a time (claimed_until), stopped at the first failure.
CREATE TABLE rollouts (
    id               TEXT PRIMARY KEY,
    release_id       TEXT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    stages           TEXT NOT NULL,
    soak_seconds     INTEGER NOT NULL,
    stage            INTEGER NOT NULL,
    state            TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    claimed_until    DATETIME,
    created_by       TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);
CREATE INDEX rollouts_state ON rollouts (state);

CREATE TABLE rollout_stations (
    rollout_id   TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    satellite_id TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    stage        INTEGER NOT NULL,
    state        TEXT NOT NULL,
    command_id   TEXT,
    detail       TEXT NOT NULL DEFAULT '',
    updated_at   DATETIME,
    PRIMARY KEY (rollout_id, satellite_id)
);

-- +goose Down
DROP TABLE rollout_stations;
DROP TABLE rollouts;
DROP TABLE releases;
