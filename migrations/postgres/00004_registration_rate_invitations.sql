-- +goose Up
-- A multi-use registration token may carry its own rate (registrations per minute), which then
-- replaces the per-address limit for registrations with it (docs/operations.md).
ALTER TABLE registration_tokens ADD COLUMN rate_per_minute INTEGER NOT NULL DEFAULT 0;

-- team_invitations: a team admin invites an email with a role; the user with that email accepts
-- (which creates the membership) or declines. Pending: neither accepted_at nor declined_at set,
-- and expires_at ahead (docs/api-users.md).
CREATE TABLE team_invitations (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    declined_at TIMESTAMPTZ
);
CREATE INDEX team_invitations_email_idx ON team_invitations(email);
CREATE INDEX team_invitations_team_idx ON team_invitations(team_id);

-- +goose Down
DROP TABLE team_invitations;
ALTER TABLE registration_tokens DROP COLUMN rate_per_minute;
