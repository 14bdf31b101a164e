-- +goose Up
ALTER TABLE widgets.widgets ADD COLUMN color text NOT NULL DEFAULT 'red';

-- +goose Down
ALTER TABLE widgets.widgets DROP COLUMN color;
