-- +goose Up
-- The spacecraft catalog (docs/catalog.md, docs/decisions/0080-0082).

-- spacecraft: team_id NULL is the global catalog, seen by every team; a team's own spacecraft
-- (a cubesat the public catalogs do not know yet) is seen by that team only. A NORAD id is unique
-- within the global catalog and within each team. The current element set is denormalised here
-- (id, epoch, mean motion) so "is this set newer" is one conditional UPDATE and listing needs no
-- join. stale_warned_at is set by the one replica that reports the current set as stale, and
-- cleared when a newer set arrives.
CREATE TABLE spacecraft (
    id                  TEXT PRIMARY KEY,
    team_id             TEXT REFERENCES teams(id) ON DELETE CASCADE,
    norad_id            INTEGER NOT NULL CHECK (norad_id > 0),
    name                TEXT NOT NULL DEFAULT '',
    intl_designator     TEXT NOT NULL DEFAULT '',
    current_set_id      TEXT,
    current_epoch       TIMESTAMPTZ,
    current_mean_motion DOUBLE PRECISION,
    stale_warned_at     TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX spacecraft_global_norad_idx ON spacecraft(norad_id) WHERE team_id IS NULL;
CREATE UNIQUE INDEX spacecraft_team_norad_idx ON spacecraft(team_id, norad_id) WHERE team_id IS NOT NULL;
CREATE INDEX spacecraft_epoch_idx ON spacecraft(current_epoch);

-- element_sets is the history: every accepted set is kept, raw as it arrived (format 'tle': the
-- name line and both lines; 'omm-json': one OMM JSON object; 'omm-kvn': one KVN message), so the
-- planner parses it with orbit.
CREATE TABLE element_sets (
    id            TEXT PRIMARY KEY,
    spacecraft_id TEXT NOT NULL REFERENCES spacecraft(id) ON DELETE CASCADE,
    format        TEXT NOT NULL CHECK (format IN ('tle', 'omm-json', 'omm-kvn')),
    source        TEXT NOT NULL DEFAULT '',
    epoch         TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    mean_motion   DOUBLE PRECISION NOT NULL,
    raw           TEXT NOT NULL,
    UNIQUE (spacecraft_id, epoch)
);
CREATE INDEX element_sets_history_idx ON element_sets(spacecraft_id, epoch);

-- transmitters follow SatNOGS DB's fields; external_id is SatNOGS DB's uuid (or ours for a
-- transmitter entered by hand), unique per spacecraft so a repeated import updates in place.
CREATE TABLE transmitters (
    id            TEXT PRIMARY KEY,
    spacecraft_id TEXT NOT NULL REFERENCES spacecraft(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL DEFAULT '',
    alive         BOOLEAN NOT NULL DEFAULT TRUE,
    status        TEXT NOT NULL DEFAULT 'active',
    uplink_low    BIGINT,
    uplink_high   BIGINT,
    downlink_low  BIGINT,
    downlink_high BIGINT,
    mode          TEXT NOT NULL DEFAULT '',
    baud          DOUBLE PRECISION,
    invert        BOOLEAN NOT NULL DEFAULT FALSE,
    source        TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (spacecraft_id, external_id)
);

-- catalog_sources are fetched on a schedule. A replica claims a due source by moving its
-- next_fetch_at forward with a conditional UPDATE, so two replicas never fetch it at once.
CREATE TABLE catalog_sources (
    id               TEXT PRIMARY KEY,
    team_id          TEXT REFERENCES teams(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    format           TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
    etag             TEXT NOT NULL DEFAULT '',
    last_modified    TEXT NOT NULL DEFAULT '',
    next_fetch_at    TIMESTAMPTZ NOT NULL,
    last_fetch_at    TIMESTAMPTZ,
    last_success_at  TIMESTAMPTZ,
    last_status      TEXT NOT NULL DEFAULT '',
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX catalog_sources_global_name_idx ON catalog_sources(name) WHERE team_id IS NULL;
CREATE UNIQUE INDEX catalog_sources_team_name_idx ON catalog_sources(team_id, name) WHERE team_id IS NOT NULL;
CREATE INDEX catalog_sources_due_idx ON catalog_sources(next_fetch_at);

-- catalog_events: what the catalog has to tell a team's operators (a stale element set, a failed
-- fetch, an import with rejected records). team_id '' is the global catalog: its events are
-- shown to every team. No foreign keys: an event outlives the spacecraft or source it names.
CREATE TABLE catalog_events (
    id            TEXT PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL,
    team_id       TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL,
    severity      TEXT NOT NULL,
    spacecraft_id TEXT NOT NULL DEFAULT '',
    norad_id      INTEGER NOT NULL DEFAULT 0,
    source_id     TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX catalog_events_team_idx ON catalog_events(team_id, id);

-- +goose Down
DROP TABLE catalog_events;
DROP TABLE catalog_sources;
DROP TABLE transmitters;
DROP TABLE element_sets;
DROP TABLE spacecraft;
