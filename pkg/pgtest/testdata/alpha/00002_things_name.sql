-- +goose Up
ALTER TABLE alpha.things ADD COLUMN name text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE alpha.things DROP COLUMN name;
