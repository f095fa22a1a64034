-- +goose Up
-- A team's own artifact quota and retention, over the backend's defaults
-- (TALOS_ARTIFACT_QUOTA_BYTES, TALOS_ARTIFACT_RETENTION; docs/operations.md "Artifacts").
-- quota_bytes NULL keeps the default; retention is a JSON object of kind to seconds
-- ({"iq": 604800}), '' or a kind left out keeps the default for that kind.
CREATE TABLE artifact_team_settings (
    team_id     TEXT PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
    quota_bytes BIGINT CHECK (quota_bytes >= 0),
    retention   TEXT NOT NULL DEFAULT '',
    updated_at  DATETIME NOT NULL
);

-- +goose Down
DROP TABLE artifact_team_settings;
