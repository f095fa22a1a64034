-- +goose Up
-- The web UI's live feed (docs/ui.md) asks every second or so which of a team's commands moved
-- since a moment: an index on (team_id, updated_at) keeps that a range scan. Satellites
-- (team_id), heartbeats and events (received_at) are indexed already.
CREATE INDEX satellite_commands_team_changed_idx ON satellite_commands(team_id, updated_at);

-- +goose Down
DROP INDEX satellite_commands_team_changed_idx;
