-- +goose NO TRANSACTION
-- +goose Up
-- The tenant's role changes across its logs, newest first (ListRoleGrants): a few per person,
-- beside the many ACCESS entries the other indexes hold. Built CONCURRENTLY, outside a
-- transaction, so that appends go on while it scans a large ledger.entries (a database that ran
-- 00007 as first written has it already). A build that fails leaves an INVALID index: drop it
-- and migrate again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS entries_role_changes ON ledger.entries (tenant_id, occur_time, unit_id, idx)
  WHERE kind = 'ROLE_CHANGE';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS ledger.entries_role_changes;
