-- Access records (접속기록) are ACCESS entries of the units' ledgers; a sweep redacts those past
-- their system's period (S-8-1). It reads a unit's ACCESS entries in index order, from where each
-- of its three passes stopped: "seen" notes the systems of new entries, "short" redacts the records
-- of one-year systems, "long" those of any system once due. A position is the ledger's page token
-- (AIP-158, opaque) and how many entries of that page are settled. One sweeper at a time works a
-- unit's access records: it holds the unit's lease until lease_until, so a sweeper that died
-- leaves it to the next one then.

-- +goose Up
CREATE TABLE retention.access_scans (
  tenant_id   text        NOT NULL,
  unit_id     text        NOT NULL,
  lease_until timestamptz NOT NULL DEFAULT '-infinity',
  seen_token  text        NOT NULL DEFAULT '',
  seen_skip   integer     NOT NULL DEFAULT 0,
  short_token text        NOT NULL DEFAULT '',
  short_skip  integer     NOT NULL DEFAULT 0,
  long_token  text        NOT NULL DEFAULT '',
  long_skip   integer     NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, unit_id)
);

-- The systems named by a unit's access records (their entries' file_name, "pipa" for pipa's own),
-- with the period the last sweep applied to them: when the files' facts change it, the passes
-- start again from the first entry, so that no record is passed over by both.
CREATE TABLE retention.access_systems (
  tenant_id  text        NOT NULL,
  unit_id    text        NOT NULL,
  system     text        NOT NULL,
  first_seen timestamptz NOT NULL,
  years      smallint    NOT NULL CHECK (years IN (1, 2)),
  PRIMARY KEY (tenant_id, unit_id, system)
);

ALTER TABLE retention.sweeps ADD COLUMN access_destroyed bigint NOT NULL DEFAULT 0,
  ADD COLUMN unclassified_systems text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE retention.sweeps DROP COLUMN unclassified_systems, DROP COLUMN access_destroyed;
DROP TABLE retention.access_systems;
DROP TABLE retention.access_scans;
