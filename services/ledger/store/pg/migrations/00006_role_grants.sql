-- The role-grant history of the accounts whose roles reach pipa in bearer tokens (`pipa token`,
-- OIDC sign-ins): one row per change of an account's roles in one tenant (S-5: grants, changes
-- and revocations kept at least three years). Grants on "*" are kept under tenant_id '-'.

-- +goose Up
CREATE TABLE ledger.role_grants (
  tenant_id    text        NOT NULL,
  id           bigserial   NOT NULL,
  issuer       text        NOT NULL,
  subject      text        NOT NULL,
  display_name text        NOT NULL DEFAULT '',
  source       text        NOT NULL,
  -- 권한 부여, 권한 변경 or 권한 말소 (pkg/rolechange).
  change       text        NOT NULL,
  -- The account's grants on this tenant's scopes, each "role scope", sorted.
  before       text[]      NOT NULL,
  after        text[]      NOT NULL,
  record_time  timestamptz NOT NULL,
  keep_until   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CHECK (keep_until >= record_time + interval '3 years')
);
-- The last set recorded per account and tenant (the tenant's list reads the primary key).
CREATE INDEX role_grants_by_account ON ledger.role_grants (issuer, subject, tenant_id, id DESC);

-- S-5: a record is never changed, and not erased before keep_until (nor by TRUNCATE, which
-- skips row triggers).
-- +goose StatementBegin
CREATE FUNCTION ledger.role_grants_kept() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER role_grants_kept BEFORE UPDATE OR DELETE ON ledger.role_grants
  FOR EACH ROW EXECUTE FUNCTION ledger.role_grants_kept();
CREATE TRIGGER role_grants_not_truncated BEFORE TRUNCATE ON ledger.role_grants
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.role_grants_kept();

-- +goose Down
DROP TABLE ledger.role_grants;
DROP FUNCTION ledger.role_grants_kept();
