-- Breaches (유출등, PIPA 34): services/requests/breach. Every primary key starts with tenant_id.

-- +goose Up
-- Breach numbers count per tenant and unit, without gaps.
CREATE TABLE requests.breach_numbers (
  tenant_id text   NOT NULL,
  unit_id   text   NOT NULL,
  last      bigint NOT NULL,
  PRIMARY KEY (tenant_id, unit_id)
);

CREATE TABLE requests.breaches (
  tenant_id   text        NOT NULL,
  unit_id     text        NOT NULL,
  number      bigint      NOT NULL,
  state       smallint    NOT NULL,
  revision    bigint      NOT NULL DEFAULT 1,
  -- The Breach (protojson) without its computed fields. A breach record names no data subject:
  -- counts, items and what was done, and the unit's contact point.
  doc         jsonb       NOT NULL,
  known_time  timestamptz NOT NULL,
  -- The posting's period (DEC-39-3), for the public page; NULL when not posted.
  posting_end timestamptz,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, unit_id, number)
);
-- Open breaches, for the clocks in lists and metrics.
CREATE INDEX breaches_open ON requests.breaches (tenant_id, unit_id, known_time) WHERE state = 1;

-- +goose Down
DROP TABLE requests.breaches;
DROP TABLE requests.breach_numbers;
