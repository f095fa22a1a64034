-- +goose Up
-- Release artifacts of talos-satellite for runner.update (docs/operations.md "Releasing an
-- update", decision 0103). The bytes live in the data directory (releases/<id>); the row holds
-- what was verified at upload and the operator's offline ed25519 signature.
CREATE TABLE releases (
    id         TEXT PRIMARY KEY,
    version    TEXT NOT NULL,
    os         TEXT NOT NULL,
    arch       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    signature  TEXT NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at DATETIME NOT NULL,
    UNIQUE (version, os, arch)
);

-- +goose Down
DROP TABLE releases;
