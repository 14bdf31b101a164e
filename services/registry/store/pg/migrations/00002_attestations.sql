-- +goose Up

-- Officers' declarations that a unit does not process what a statutory item of a policy covers
-- (WG26-ITEMS). Keyed by tenant, like every table; the unit is a column because the resource
-- name is tenants/{t}/attestations/{id}.
CREATE TABLE registry.attestations (
  tenant_id      text COLLATE "C" NOT NULL,
  attestation_id text COLLATE "C" NOT NULL,
  unit_id        text COLLATE "C" NOT NULL,
  -- The protojson of the Attestation without name, create_time, update_time and etag.
  data           jsonb NOT NULL,
  revision       bigint NOT NULL DEFAULT 1,
  create_time    timestamptz NOT NULL,
  update_time    timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, attestation_id),
  FOREIGN KEY (tenant_id, unit_id) REFERENCES registry.units (tenant_id, unit_id)
);
CREATE INDEX attestations_unit ON registry.attestations (tenant_id, unit_id);

-- +goose Down
DROP TABLE registry.attestations;
