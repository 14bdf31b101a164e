-- +goose Up

-- The request_ids of the ledger's changes other than appends (UpdateLedgerSettings), which keep
-- theirs with the entries. Exactly idempotency.DDL("ledger") of github.com/pipa-kr/pipa/pkg/idempotency.
CREATE TABLE ledger.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

-- +goose Down
DROP TABLE ledger.idempotency;
