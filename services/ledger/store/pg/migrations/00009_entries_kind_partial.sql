-- +goose NO TRANSACTION
-- +goose Up
-- entries_kind no longer holds ACCESS entries. They are most of a log (every staff read and
-- every ingested access record), and their readers walk a log in index order, which the primary
-- key already serves with the kind as a filter; one index entry fewer per access record is about
-- an eighth of its write-ahead log. Entries.Kind names the predicate for every other kind, so
-- generic plans use the partial index. Built CONCURRENTLY, outside a transaction, before the
-- full index goes, so that appends and kind reads go on meanwhile. A build that fails leaves an
-- INVALID index: drop it and migrate again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS entries_kind_not_access ON ledger.entries (tenant_id, unit_id, kind, idx)
  WHERE kind <> 'ACCESS';
DROP INDEX CONCURRENTLY IF EXISTS ledger.entries_kind;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS entries_kind ON ledger.entries (tenant_id, unit_id, kind, idx);
DROP INDEX CONCURRENTLY IF EXISTS ledger.entries_kind_not_access;
