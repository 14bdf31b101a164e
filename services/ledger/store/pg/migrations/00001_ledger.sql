-- +goose Up

-- Every table is keyed by tenant first (Citus distribution column); a log is (tenant_id, unit_id).
-- Ids use the "C" collation so that they compare byte-wise, the same on every server.

-- One signing key per tenant (one Ed25519 note key signs all its units' checkpoints).
CREATE TABLE ledger.keys (
  tenant_id    text COLLATE "C" NOT NULL,
  -- The note signer key ("PRIVATE+KEY+{name}+..."), sealed by the caller's Sealer with the
  -- tenant id as associated data: never stored in clear, and not movable to another tenant.
  signer_skey  bytea NOT NULL,
  -- The public note verifier key ("{name}+{hash}+{base64 key}").
  verifier_key text NOT NULL,
  -- The tenant's origin prefix and key name, e.g. "pipa.kr/tenants/iksan"; a log's origin line
  -- is origin || '/units/' || unit_id.
  origin       text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

-- One row per log: the head of the tree. Appenders lock it FOR UPDATE, which serialises the
-- appends of every replica to one log; size, root and checkpoint change in the same transaction
-- as the entries and hashes they cover.
CREATE TABLE ledger.logs (
  tenant_id    text COLLATE "C" NOT NULL,
  unit_id      text COLLATE "C" NOT NULL,
  size         bigint NOT NULL CHECK (size >= 0),
  root         bytea NOT NULL CHECK (length(root) = 32),
  -- The C2SP tlog-checkpoint signed note for (size, root).
  checkpoint   text NOT NULL,
  -- The verifier key that signed checkpoint (the tenant's key today; kept per log so that a
  -- key rotation can tell which checkpoints an old key signed).
  verifier_key text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  update_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, unit_id)
);

CREATE TABLE ledger.entries (
  tenant_id    text COLLATE "C" NOT NULL,
  unit_id      text COLLATE "C" NOT NULL,
  idx          bigint NOT NULL CHECK (idx >= 0),
  -- The exact leaf bytes, as hashed: never rewritten, not even by redaction.
  leaf         bytea NOT NULL,
  -- RFC 6962 leaf hash, sha256(0x00 || leaf).
  leaf_hash    bytea NOT NULL CHECK (length(leaf_hash) = 32),
  kind         text COLLATE "C" NOT NULL,
  occur_time   timestamptz NOT NULL,
  -- The client's request_id (AIP-155) and a fingerprint of its request, for idempotent replay.
  request_id   text COLLATE "C",
  request_hash bytea,
  -- Personal values committed to in the leaf, encrypted by the caller; NULL once redacted.
  sealed       bytea,
  redacted     boolean NOT NULL DEFAULT false,
  commit_time  timestamptz NOT NULL DEFAULT now(),
  -- The size of the first checkpoint that includes this entry.
  tree_size    bigint NOT NULL CHECK (tree_size > idx),
  -- AMENDMENT and REDACTION: the earlier entry of the same log this one is about (STD-45).
  follows      bigint CHECK (follows < idx),
  PRIMARY KEY (tenant_id, unit_id, idx),
  FOREIGN KEY (tenant_id, unit_id, follows) REFERENCES ledger.entries (tenant_id, unit_id, idx),
  CHECK (NOT (redacted AND sealed IS NOT NULL))
);
CREATE UNIQUE INDEX entries_request_id ON ledger.entries (tenant_id, unit_id, request_id)
  WHERE request_id IS NOT NULL;
CREATE INDEX entries_kind ON ledger.entries (tenant_id, unit_id, kind, idx);

-- The tree's stored hashes (golang.org/x/mod/sumdb/tlog): for each leaf, its hash and the hashes
-- of the subtrees it completes, at tlog.StoredHashIndex positions. Inclusion and consistency
-- proofs and tiles are read from here.
CREATE TABLE ledger.hashes (
  tenant_id   text COLLATE "C" NOT NULL,
  unit_id     text COLLATE "C" NOT NULL,
  storage_idx bigint NOT NULL CHECK (storage_idx >= 0),
  hash        bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (tenant_id, unit_id, storage_idx)
);

-- +goose Down
DROP TABLE ledger.hashes;
DROP TABLE ledger.entries;
DROP TABLE ledger.logs;
DROP TABLE ledger.keys;
