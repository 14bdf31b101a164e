-- The ledger outbox of the service whose schema ({schema}) it lives in. pkg/ledgerout substitutes
-- the schema and applies this with its own version table, {schema}.ledgerout_db_version.

-- +goose Up
CREATE SEQUENCE {schema}.ledger_outbox_ids;

-- Each ledger entry the service must append, written in the transaction of the change it records.
CREATE TABLE {schema}.ledger_outbox (
  tenant_id     text        NOT NULL,
  id            bigint      NOT NULL DEFAULT nextval('{schema}.ledger_outbox_ids'),
  unit_id       text        NOT NULL,
  -- The ledger's idempotency key, fixed when the row is written: a redelivery appends once.
  request_id    text        NOT NULL,
  -- What the service calls the entry: the thing it records (e.g. a request's receipt) and the
  -- step, so that it finds its entries again; and the follow-up it runs once it is delivered.
  subject       text        NOT NULL DEFAULT '',
  label         text        NOT NULL DEFAULT '',
  chain         text        NOT NULL DEFAULT '',
  -- The entry's kind (DESTRUCTION, AMENDMENT, ...), for metrics and logs.
  kind          text        NOT NULL,
  -- The ledger AppendEntryRequest (protobuf), sealed with the data key when sealed (it may name
  -- people); NULL once the service forgot it (the ledger has it).
  entry         bytea,
  sealed        boolean     NOT NULL,
  occur_time    timestamptz NOT NULL,
  -- The entry delivered first, refused with this one; follows_after: this entry's follows is
  -- that entry's index.
  after_id      bigint,
  follows_after boolean     NOT NULL DEFAULT false,
  ledger_index  bigint,
  -- The appended leaf's hash, as the ledger gave it.
  leaf_hash     bytea,
  create_time   timestamptz NOT NULL,
  deliver_time  timestamptz,
  -- The ledger refused it (InvalidArgument or FailedPrecondition), or the entry it follows: for
  -- good, never retried.
  refuse_time   timestamptz,
  refusal       text,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ledger_outbox_pending ON {schema}.ledger_outbox (tenant_id, id) WHERE ledger_index IS NULL AND refuse_time IS NULL;
CREATE INDEX ledger_outbox_after ON {schema}.ledger_outbox (tenant_id, after_id) WHERE after_id IS NOT NULL;
CREATE INDEX ledger_outbox_subject ON {schema}.ledger_outbox (tenant_id, subject, id) WHERE subject <> '';

-- +goose Down
DROP TABLE {schema}.ledger_outbox;
DROP SEQUENCE {schema}.ledger_outbox_ids;
