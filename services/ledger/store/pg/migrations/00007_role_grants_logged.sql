-- Every role-grant record is a ROLE_CHANGE entry of a Merkle log (S-8-3): a token's in the
-- tenant's own log (unit_id '-', pkg/names TenantLog), an officer's in its unit's log. The table
-- stays the index of the last set recorded per account and names its entry (log_index); the
-- tenant's list reads the entries themselves, through entries_role_changes.

-- +goose Up
ALTER TABLE ledger.role_grants ADD COLUMN log_index bigint CHECK (log_index >= 0);
CREATE UNIQUE INDEX role_grants_log_index ON ledger.role_grants (tenant_id, log_index);

-- S-5 as before, except that a record made before its entry existed gets the entry's index once
-- (the service carries such records into the log at start-up), and nothing else changes with it.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.role_grants_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.log_index IS NULL AND NEW.log_index IS NOT NULL
     AND to_jsonb(NEW) - 'log_index' = to_jsonb(OLD) - 'log_index' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'role-grant records are not changed (S-5)' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'role-grant records are not truncated (S-5: each is kept three years)' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.keep_until > now() THEN
    RAISE EXCEPTION 'role-grant record %/% is kept until % (S-5: three years)', OLD.tenant_id, OLD.id, OLD.keep_until
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.role_grants_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'role-grant records are not changed (S-5)' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'role-grant records are not truncated (S-5: each is kept three years)' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.keep_until > now() THEN
    RAISE EXCEPTION 'role-grant record %/% is kept until % (S-5: three years)', OLD.tenant_id, OLD.id, OLD.keep_until
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END $$;
-- +goose StatementEnd
DROP INDEX ledger.role_grants_log_index;
ALTER TABLE ledger.role_grants DROP COLUMN log_index;
