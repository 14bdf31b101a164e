-- +goose Up

-- Every table is keyed by tenant first (Citus distribution column). Ids use the "C" collation so
-- that listings sort byte-wise, the same on every server whatever its locale.

CREATE TABLE registry.tenants (
  tenant_id   text COLLATE "C" NOT NULL,
  -- The protojson of the Tenant without name, create_time, update_time and etag, which come from
  -- the key columns.
  data        jsonb NOT NULL,
  revision    bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id)
);

CREATE TABLE registry.units (
  tenant_id   text COLLATE "C" NOT NULL,
  unit_id     text COLLATE "C" NOT NULL,
  parent_id   text COLLATE "C",
  -- Materialised path: unit ids from the root unit down to this one (inclusive). Sorting by it
  -- gives tree (depth-first) order; a unit's descendants are the rows whose path contains its id.
  path        text[] COLLATE "C" NOT NULL,
  data        jsonb NOT NULL,
  revision    bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, unit_id),
  FOREIGN KEY (tenant_id) REFERENCES registry.tenants (tenant_id),
  FOREIGN KEY (tenant_id, parent_id) REFERENCES registry.units (tenant_id, unit_id),
  CHECK (path[cardinality(path)] = unit_id)
);
CREATE INDEX units_path ON registry.units (tenant_id, path);

-- Officers, CCTV sites, personal-information files and processors of a unit: one table, since
-- the store treats them alike (see README.md).
CREATE TABLE registry.unit_resources (
  tenant_id   text COLLATE "C" NOT NULL,
  unit_id     text COLLATE "C" NOT NULL,
  kind        text COLLATE "C" NOT NULL CHECK (kind IN ('officers', 'sites', 'files', 'processors')),
  id          text COLLATE "C" NOT NULL,
  -- Full resource names of the officers and processors this resource refers to (a site's manager
  -- and processor, a file's processors), so that deleting one can find what still uses it.
  refs        text[] COLLATE "C" NOT NULL DEFAULT '{}',
  data        jsonb NOT NULL,
  revision    bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, unit_id, kind, id),
  FOREIGN KEY (tenant_id, unit_id) REFERENCES registry.units (tenant_id, unit_id)
);
CREATE INDEX unit_resources_refs ON registry.unit_resources USING gin (refs);

CREATE TABLE registry.policy_versions (
  tenant_id      text COLLATE "C" NOT NULL,
  unit_id        text COLLATE "C" NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('privacy', 'cctv')),
  number         integer NOT NULL CHECK (number > 0),
  state          text NOT NULL CHECK (state IN ('draft', 'announced', 'archived')),
  effective_date date,
  -- The protojson of the PolicyVersion, snapshot included, without name, create_time,
  -- update_time and etag; kind, number, state and effective_date are copied into the columns.
  data           jsonb NOT NULL,
  revision       bigint NOT NULL DEFAULT 1,
  create_time    timestamptz NOT NULL,
  update_time    timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, unit_id, kind, number),
  FOREIGN KEY (tenant_id, unit_id) REFERENCES registry.units (tenant_id, unit_id)
);

-- Exactly idempotency.DDL("registry") of github.com/pipa-kr/pipa/pkg/idempotency.
CREATE TABLE registry.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

-- +goose Down
DROP TABLE registry.idempotency;
DROP TABLE registry.policy_versions;
DROP TABLE registry.unit_resources;
DROP TABLE registry.units;
DROP TABLE registry.tenants;
