-- +goose Up
-- A multi-use registration token may carry its own rate (registrations per minute), which then
-- replaces the per-address limit for registrations with it (docs/operations.md).
ALTER TABLE registration_tokens ADD COLUMN rate_per_minute INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE registration_tokens DROP COLUMN rate_per_minute;
