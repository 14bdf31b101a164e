-- +goose Up
-- The backlog the outbound_pending gauge counts, without reading the delivered messages.
CREATE INDEX outbound_pending ON {schema}.outbound (channel) WHERE deliver_time IS NULL AND fail_time IS NULL;

-- +goose Down
DROP INDEX {schema}.outbound_pending;
