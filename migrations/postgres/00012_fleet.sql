-- +goose Up
-- Fleet operations (docs/operations.md, docs/decisions/0101 and 0102): a station's tags, its
-- pause, and commands fanned out to every station a tag query selects.

-- tags: the station's key=value labels as a JSON object, from registration and heartbeats.
ALTER TABLE satellites ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
-- A pause: set while paused_at is not NULL, ended by a resume or, by itself, at paused_until
-- (NULL: until resumed). pause_running is "finish" or "cancel": what became of running work.
ALTER TABLE satellites ADD COLUMN paused_at TIMESTAMPTZ;
ALTER TABLE satellites ADD COLUMN paused_until TIMESTAMPTZ;
ALTER TABLE satellites ADD COLUMN pause_note TEXT NOT NULL DEFAULT '';
ALTER TABLE satellites ADD COLUMN paused_by TEXT NOT NULL DEFAULT '';
ALTER TABLE satellites ADD COLUMN pause_running TEXT NOT NULL DEFAULT '';

-- command_fanouts are the parents of commands sent to a tag query: one child command per
-- matching station in satellite_commands, linked by parent_id.
CREATE TABLE command_fanouts (
    id             TEXT PRIMARY KEY,
    team_id        TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    target         TEXT NOT NULL,
    type           TEXT NOT NULL,
    priority       TEXT NOT NULL,
    payload        TEXT,
    correlation_id TEXT NOT NULL DEFAULT '',
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    cancelled_at   TIMESTAMPTZ
);
CREATE INDEX command_fanouts_team_idx ON command_fanouts(team_id, created_at);
ALTER TABLE satellite_commands ADD COLUMN parent_id TEXT;
CREATE INDEX satellite_commands_parent_idx ON satellite_commands(parent_id);

-- +goose Down
DROP INDEX satellite_commands_parent_idx;
ALTER TABLE satellite_commands DROP COLUMN parent_id;
DROP TABLE command_fanouts;
ALTER TABLE satellites DROP COLUMN pause_running;
ALTER TABLE satellites DROP COLUMN paused_by;
ALTER TABLE satellites DROP COLUMN pause_note;
ALTER TABLE satellites DROP COLUMN paused_until;
ALTER TABLE satellites DROP COLUMN paused_at;
ALTER TABLE satellites DROP COLUMN tags;
