-- +goose Up
-- The auto-scheduler's settings and runs (docs/autoscheduler.md, docs/decisions/0091).

-- autosched_targets: a team's list of spacecraft for the auto-scheduler, one row per NORAD id,
-- each with its priority (1-100, a multiplier of pass quality), the transmitter to receive (a
-- transmitters.id; no foreign key, so a re-imported catalog does not silently drop a target: a
-- run reports a target whose transmitter is gone) and an optional decoder name.
CREATE TABLE autosched_targets (
    id             TEXT PRIMARY KEY,
    team_id        TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    norad_id       INTEGER NOT NULL CHECK (norad_id > 0),
    priority       INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 100),
    transmitter_id TEXT NOT NULL,
    decoder        TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, norad_id)
);

-- autosched_stations: how the auto-scheduler may use a station: its rotator's slew rates
-- (degrees per second per axis) and the lowest elevation worth a pass. Its shares say which
-- teams may use it and with what weight.
CREATE TABLE autosched_stations (
    satellite_id      TEXT PRIMARY KEY REFERENCES satellites(id) ON DELETE CASCADE,
    slew_az_deg_s     DOUBLE PRECISION NOT NULL CHECK (slew_az_deg_s > 0),
    slew_el_deg_s     DOUBLE PRECISION NOT NULL CHECK (slew_el_deg_s > 0),
    min_elevation_deg DOUBLE PRECISION NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE TABLE autosched_shares (
    satellite_id TEXT NOT NULL REFERENCES autosched_stations(satellite_id) ON DELETE CASCADE,
    team_id      TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    weight       INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 1000),
    PRIMARY KEY (satellite_id, team_id)
);
CREATE INDEX autosched_shares_team_idx ON autosched_shares(team_id);

-- autosched_runs: one row per team owning stations. A replica claims a run with a conditional
-- UPDATE of lease_until (so at most one run per team at a time across replicas); fingerprint is
-- what the catalog and the settings looked like at the last run, so a change is seen by every
-- replica and run once.
CREATE TABLE autosched_runs (
    team_id     TEXT PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ,
    last_run_at TIMESTAMPTZ,
    fingerprint TEXT NOT NULL DEFAULT '',
    last_status TEXT NOT NULL DEFAULT '',
    last_error  TEXT NOT NULL DEFAULT '',
    last_booked INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE autosched_runs;
DROP TABLE autosched_shares;
DROP TABLE autosched_stations;
DROP TABLE autosched_targets;
