-- Receipt numbers from a sequence per tenant, prefix and year (issue 17): the counter row of
-- 00001 stayed locked from an intake's number to its commit, so a tenant's intakes committed one
-- at a time. Each (tenant, prefix, year) row now names its sequence, requests.receipt_<id>, which
-- the store creates with the row on the year's first intake. nextval takes no lock held to
-- commit. Numbers stay unique and increasing in the order they were taken, but can have gaps: an
-- intake that rolls back after taking its number (a failed insert, a deadline, a crash) does not
-- give it back, and after a crash PostgreSQL may skip up to 32 values. No number is ever reused,
-- and a gap is a number no one was given: the citizen quotes the number of a request that was
-- stored, and the ledger, not the numbering, is the record of what was received.
-- The sequences are created at run time, not here: the role pipa serves as needs CREATE on schema
-- requests (deploy/OPERATIONS.md, step 2).

-- +goose Up
ALTER TABLE requests.receipts ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
-- +goose StatementBegin
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, last FROM requests.receipts LOOP
    EXECUTE format('CREATE SEQUENCE requests.receipt_%s START %s', r.id, r.last + 1);
  END LOOP;
END $$;
-- +goose StatementEnd
ALTER TABLE requests.receipts DROP COLUMN last;

-- +goose Down
ALTER TABLE requests.receipts ADD COLUMN last bigint NOT NULL DEFAULT 0;
-- +goose StatementBegin
DO $$
DECLARE r record; n bigint;
BEGIN
  FOR r IN SELECT id FROM requests.receipts LOOP
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM requests.receipt_%s', r.id) INTO n;
    UPDATE requests.receipts SET last = n WHERE id = r.id;
    EXECUTE format('DROP SEQUENCE requests.receipt_%s', r.id);
  END LOOP;
END $$;
-- +goose StatementEnd
ALTER TABLE requests.receipts ALTER COLUMN last DROP DEFAULT, DROP COLUMN id;
