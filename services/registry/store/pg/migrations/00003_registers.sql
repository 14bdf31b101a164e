-- +goose Up

-- The registers beyond the policies (LAW.md 9b, 9c): a file's registration events
-- ('registrations', record_id "{file}/{n}"), impact assessments ('assessments', record_id the
-- assessment id) and 보호수준 평가 ('evaluations', record_id the year). One table: each record is
-- a protojson document of the unit, changed only with a REGISTER entry in the ledger outbox of the
-- same transaction.
CREATE TABLE registry.registers (
  tenant_id   text COLLATE "C" NOT NULL,
  unit_id     text COLLATE "C" NOT NULL,
  kind        text COLLATE "C" NOT NULL CHECK (kind IN ('registrations', 'assessments', 'evaluations')),
  record_id   text COLLATE "C" NOT NULL,
  -- The protojson of the record without name, create_time, update_time and etag.
  data        jsonb NOT NULL,
  revision    bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, unit_id, kind, record_id),
  FOREIGN KEY (tenant_id, unit_id) REFERENCES registry.units (tenant_id, unit_id)
);
CREATE INDEX registers_tenant_kind ON registry.registers (tenant_id, kind);

-- +goose Down
DROP TABLE registry.registers;
