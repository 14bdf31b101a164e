-- The access log's spool (pkg/accesslog): each read's record is stored here before the read is
-- answered, and deleted once the unit's ledger holds it as an ACCESS entry.

-- +goose Up
CREATE TABLE accesslog.spool (
  tenant_id  text        NOT NULL,
  id         bigserial   NOT NULL,
  -- The unit's log, tenants/{t}/units/{u}.
  parent     text        NOT NULL,
  -- Fixed when the record is made: a retried append is one entry.
  request_id text        NOT NULL,
  -- The ledgerv1.Entry, protobuf wire format. No personal values: an account id, an address, a
  -- resource name, a method.
  entry      bytea       NOT NULL,
  made_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX spool_by_id ON accesslog.spool (id);

-- +goose Down
DROP TABLE accesslog.spool;
