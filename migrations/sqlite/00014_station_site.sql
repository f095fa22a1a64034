-- +goose Up
-- A station's site as the planner needs it (docs/planner.md): its own minimum elevation and its
-- horizon mask (JSON list of {"az_deg","el_deg"}; empty for a flat horizon).
ALTER TABLE satellites ADD COLUMN min_elevation_deg REAL NOT NULL DEFAULT 0;
ALTER TABLE satellites ADD COLUMN horizon_mask TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE satellites DROP COLUMN horizon_mask;
ALTER TABLE satellites DROP COLUMN min_elevation_deg;
