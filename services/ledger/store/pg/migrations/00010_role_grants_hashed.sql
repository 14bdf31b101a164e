-- ledger.role_grants keeps only what the index needs (S-5): the account as a keyed hash
-- (pkg/seal Tags of issuer and subject: the index finds an account's last set by it), not its
-- subject or display name, which the entry's sealed values hold. Existing rows keep theirs until
-- the ledger's start-up hashes them (HashRoleGrants, after CarryRoleGrants has carried into the
-- log the rows not yet there, which need them): SQL does not hold the key. A row past keep_until
-- may be deleted (ExpireRoleGrants) unless it is its account's last set in the tenant.

-- +goose Up
ALTER TABLE ledger.role_grants ADD COLUMN account bytea,
  ALTER COLUMN subject DROP NOT NULL, ALTER COLUMN display_name DROP NOT NULL, ALTER COLUMN display_name DROP DEFAULT,
  ADD CONSTRAINT role_grants_account CHECK (account IS NOT NULL OR subject IS NOT NULL);
CREATE INDEX role_grants_by_hash ON ledger.role_grants (issuer, account, tenant_id, id DESC) WHERE account IS NOT NULL;

-- S-5 as before, with one more change allowed once: a row in the log has its account hashed and
-- its subject and display name cleared, and nothing else changes with it.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.role_grants_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.log_index IS NULL AND NEW.log_index IS NOT NULL
     AND to_jsonb(NEW) - 'log_index' = to_jsonb(OLD) - 'log_index' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.account IS NULL AND NEW.account IS NOT NULL AND OLD.log_index IS NOT NULL
     AND NEW.subject IS NULL AND NEW.display_name IS NULL
     AND to_jsonb(NEW) - '{account,subject,display_name}'::text[] = to_jsonb(OLD) - '{account,subject,display_name}'::text[] THEN
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
DROP INDEX ledger.role_grants_by_hash;
-- Rows hashed since cannot get their subject back: the down migration refuses while they exist.
ALTER TABLE ledger.role_grants DROP CONSTRAINT role_grants_account, DROP COLUMN account,
  ALTER COLUMN display_name SET DEFAULT '', ALTER COLUMN display_name SET NOT NULL, ALTER COLUMN subject SET NOT NULL;
