-- +goose Up
CREATE TABLE idem.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

CREATE TABLE idem.things (
  tenant_id text NOT NULL,
  id        bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE idem.things;
DROP TABLE idem.idempotency;
