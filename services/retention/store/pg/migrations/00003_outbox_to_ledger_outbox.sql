-- The ledger entries this service appends moved to its ledger outbox (pkg/ledgerout,
-- retention.ledger_outbox, which its own migrations create first). Every row moves with its id,
-- so items.batch_id and copy_outcomes' outbox ids still name it, and with the request_id it was
-- sent under (retention/entries/{id}, the outbox's scheme too), so a redelivery appends once. The
-- old delivery jobs go: the outbox's requeue, run when a leader starts, enqueues every pending
-- entry again.

-- +goose Up
INSERT INTO retention.ledger_outbox (tenant_id, id, unit_id, request_id, kind, entry, sealed, occur_time, after_id,
  ledger_index, leaf_hash, create_time, deliver_time, refuse_time, refusal)
SELECT tenant_id, id, unit_id, 'retention/entries/' || id, '', entry, false, occur_time, after_id,
  ledger_index, leaf_hash, create_time, deliver_time, refuse_time, refusal
FROM retention.outbox;
SELECT setval('retention.ledger_outbox_ids', greatest((SELECT max(id) FROM retention.ledger_outbox), 1));
-- +goose StatementBegin
DO $$
BEGIN
  IF to_regclass('retention.river_job') IS NOT NULL THEN
    DELETE FROM retention.river_job WHERE kind = 'retention.deliver_ledger_entry'
      AND state NOT IN ('completed', 'cancelled', 'discarded');
  END IF;
END $$;
-- +goose StatementEnd
DROP TABLE retention.outbox;

-- +goose Down
CREATE TABLE retention.outbox (
  tenant_id    text        NOT NULL,
  id           bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id      text        NOT NULL,
  entry        bytea       NOT NULL,
  occur_time   timestamptz NOT NULL,
  after_id     bigint,
  ledger_index bigint,
  leaf_hash    bytea,
  create_time  timestamptz NOT NULL,
  deliver_time timestamptz,
  refuse_time  timestamptz,
  refusal      text,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_pending ON retention.outbox (tenant_id) WHERE ledger_index IS NULL AND refuse_time IS NULL;
CREATE INDEX outbox_after ON retention.outbox (tenant_id, after_id) WHERE after_id IS NOT NULL;
INSERT INTO retention.outbox (tenant_id, id, unit_id, entry, occur_time, after_id, ledger_index, leaf_hash, create_time,
  deliver_time, refuse_time, refusal)
SELECT tenant_id, id, unit_id, coalesce(entry, ''), occur_time, after_id, ledger_index, leaf_hash, create_time,
  deliver_time, refuse_time, refusal
FROM retention.ledger_outbox WHERE NOT sealed;
SELECT setval('retention.ids', greatest((SELECT max(id) FROM retention.outbox), (SELECT last_value FROM retention.ids)));
