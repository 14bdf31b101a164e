-- A plan's completion claims the erasure of an item's personal fields kept in another service,
-- under the unit's hold lock, and makes the call after that transaction commits (no network call
-- in a transaction): from the claim the item counts as destroyed in fact, whatever hold comes
-- after, as a sweep's claimed batch does; erase_time is set once the call succeeded.

-- +goose Up
ALTER TABLE retention.items ADD COLUMN erase_claim_time timestamptz;
UPDATE retention.items SET erase_claim_time = erase_time WHERE erase_time IS NOT NULL;

-- +goose Down
ALTER TABLE retention.items DROP COLUMN erase_claim_time;
