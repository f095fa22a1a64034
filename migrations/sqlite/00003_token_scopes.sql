-- +goose Up
-- Personal tokens get scopes (docs/decisions/0064): names separated by spaces. Tokens made
-- before scopes existed could do everything their user could, so they keep "admin".
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN scopes;
