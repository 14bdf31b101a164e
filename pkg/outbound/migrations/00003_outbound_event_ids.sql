-- +goose Up
-- An event's id is its own (Emit's "{schema}-{seq}", or the producing service's when it arrives
-- through PublishEvent): a second publication of an id records nothing new.
CREATE UNIQUE INDEX events_id ON {schema}.events (tenant_id, id);

-- +goose Down
DROP INDEX {schema}.events_id;
