-- +goose Up
-- Observations as the backend's own objects (docs/observations.md, decisions 0088-0090).

-- observations: one booked pass of a spacecraft over a station (satellite_id), for a team. The
-- pass (aos/tca/los, max_el, the azimuths at AOS and LOS and the elevation the pass starts and
-- ends at) is the planner's, from the element set named by element_set_id/element_set_epoch;
-- re-dispatch replaces them when a newer set moves the pass. state follows
-- scheduled -> dispatched -> prepared -> running -> completed | failed | cancelled | missed.
-- A dispatching replica claims a row by moving claimed_until forward with a conditional UPDATE
-- (decision 0088). checked_set_id is the newest element set the dispatcher compared the pass
-- with. summary is the station's completion report (JSON); verdict_reasons and decoder_problems
-- (what the decoder's process events reported as wrong) are JSON arrays of strings.
CREATE TABLE observations (
    id                TEXT PRIMARY KEY,
    team_id           TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    satellite_id      TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    spacecraft_id     TEXT NOT NULL,
    norad_id          INTEGER NOT NULL CHECK (norad_id > 0),
    transmitter_id    TEXT NOT NULL DEFAULT '',
    aos               DATETIME NOT NULL,
    tca               DATETIME NOT NULL,
    los               DATETIME NOT NULL,
    max_el            REAL NOT NULL,
    aos_az            REAL NOT NULL,
    los_az            REAL NOT NULL,
    horizon_el        REAL NOT NULL DEFAULT 0,
    element_set_id    TEXT NOT NULL,
    element_set_epoch DATETIME NOT NULL,
    checked_set_id    TEXT NOT NULL DEFAULT '',
    decoder           TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL DEFAULT '',
    source            TEXT NOT NULL CHECK (source IN ('user', 'auto')),
    state             TEXT NOT NULL CHECK (state IN ('scheduled', 'dispatched', 'prepared', 'running',
                                                     'completed', 'failed', 'cancelled', 'missed')),
    command_id        TEXT NOT NULL DEFAULT '',
    dispatched_at     DATETIME,
    claimed_until     DATETIME,
    verdict           TEXT NOT NULL DEFAULT '' CHECK (verdict IN ('', 'good', 'degraded', 'failed')),
    verdict_reasons   TEXT NOT NULL DEFAULT '[]',
    verdict_at        DATETIME,
    override_note     TEXT NOT NULL DEFAULT '',
    override_by       TEXT NOT NULL DEFAULT '',
    summary           TEXT,
    decoder_problems  TEXT NOT NULL DEFAULT '[]',
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);
CREATE INDEX observations_station_idx ON observations(satellite_id, aos);
CREATE INDEX observations_team_idx ON observations(team_id, aos);
CREATE INDEX observations_state_idx ON observations(state, aos);

-- observation_history: every transition (and every re-dispatch, from = to = dispatched) with
-- its time and reason, in order of id (UUIDv7).
CREATE TABLE observation_history (
    id             TEXT PRIMARY KEY,
    observation_id TEXT NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
    at             DATETIME NOT NULL,
    from_state     TEXT NOT NULL DEFAULT '',
    to_state       TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    actor          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX observation_history_idx ON observation_history(observation_id, id);

-- +goose Down
DROP TABLE observation_history;
DROP TABLE observations;
