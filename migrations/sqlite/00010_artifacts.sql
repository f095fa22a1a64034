-- +goose Up
-- Observation data products uploaded by stations (docs/protocol.md "Uploads", docs/operations.md
-- "Artifacts", docs/decisions/0094-0096).

-- artifacts: one row per file a station uploaded whole with a matching SHA-256. source is
-- 'observation' (source_id an observation id) or 'process' (source_id the process.start command
-- id). upload_id is the tus upload it came from, unique so that finishing an upload twice (a
-- retried final PATCH) records it once. storage_key names the bytes in the artifact storage.
-- satellite_id has no foreign key: an artifact outlives the station that made it.
CREATE TABLE artifacts (
    id             TEXT PRIMARY KEY,
    team_id        TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    satellite_id   TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('observation', 'process')),
    source_id      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('waterfall', 'audio', 'iq', 'frames', 'log', 'other')),
    name           TEXT NOT NULL,
    size           BIGINT NOT NULL CHECK (size >= 0),
    sha256         TEXT NOT NULL,
    content_type   TEXT NOT NULL DEFAULT '',
    upload_id      TEXT NOT NULL UNIQUE,
    storage_key    TEXT NOT NULL,
    frames_skipped INTEGER NOT NULL DEFAULT 0,
    created_at     DATETIME NOT NULL
);
CREATE INDEX artifacts_source_idx ON artifacts(team_id, source, source_id);
CREATE INDEX artifacts_team_kind_age_idx ON artifacts(team_id, kind, created_at);
CREATE INDEX artifacts_kind_age_idx ON artifacts(kind, created_at);

-- artifact_frames: the lines of a frames artifact, indexed on arrival. seq is the line's place
-- in its file (from 0); data is the frame in lower-case hex; fields the decoder's decoded
-- fields (a JSON object as text, '' when none).
CREATE TABLE artifact_frames (
    artifact_id TEXT NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    team_id     TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    time        DATETIME NOT NULL,
    data        TEXT NOT NULL,
    fields      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (artifact_id, seq)
);
CREATE INDEX artifact_frames_source_idx ON artifact_frames(team_id, source, source_id, time, artifact_id, seq);

-- +goose Down
DROP TABLE artifact_frames;
DROP TABLE artifacts;
