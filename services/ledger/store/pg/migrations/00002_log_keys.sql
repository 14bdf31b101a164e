-- +goose Up

-- Each log signs with a key of its own whose name is the log's origin (C2SP tlog-checkpoint).
-- A log made before this migration is signed by its tenant's key (ledger.keys) until its first
-- handover, which the service makes at start-up (a LEDGER_KEY entry, see store/pg/README.md).
CREATE TABLE ledger.log_keys (
  tenant_id     text COLLATE "C" NOT NULL,
  unit_id       text COLLATE "C" NOT NULL,
  -- 0 for the log's first key of its own, then one more per rotation.
  seq           integer NOT NULL CHECK (seq >= 0),
  -- The note signer key, sealed by the service's Sealer with the log and seq as associated data:
  -- never in clear, and it opens for no other log or position.
  signer_skey   bytea NOT NULL,
  -- The public note verifier key. Never trusted: the service derives the key from signer_skey
  -- and refuses to start when they differ.
  verifier_key  text NOT NULL,
  -- The key this one took over from (NULL for a log's first key), and the handover: the
  -- checkpoint of size handover_size, whose last entry is the LEDGER_KEY entry naming this key,
  -- signed by both keys.
  previous_key  text,
  handover_size bigint CHECK (handover_size > 0),
  handover      text,
  create_time   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, unit_id, seq),
  CHECK ((previous_key IS NULL) = (handover IS NULL) AND (handover IS NULL) = (handover_size IS NULL))
);

-- The leaf hash is computed from the leaf whenever it is needed: a stored copy was served but
-- never checked, so changing it went unnoticed.
ALTER TABLE ledger.entries DROP COLUMN leaf_hash;

-- An erased entry names the REDACTION entry that erased it, whose leaf says so ("follows"):
-- a row marked redacted without it is refused on read.
ALTER TABLE ledger.entries ADD COLUMN redacted_by bigint,
  ADD FOREIGN KEY (tenant_id, unit_id, redacted_by) REFERENCES ledger.entries (tenant_id, unit_id, idx);
UPDATE ledger.entries e SET redacted_by = r.idx FROM ledger.entries r
  WHERE e.redacted AND r.tenant_id = e.tenant_id AND r.unit_id = e.unit_id
    AND r.follows = e.idx AND r.kind = 'REDACTION';

-- +goose Down
ALTER TABLE ledger.entries DROP COLUMN redacted_by;
ALTER TABLE ledger.entries ADD COLUMN leaf_hash bytea;
UPDATE ledger.entries SET leaf_hash = sha256('\x00'::bytea || leaf);
ALTER TABLE ledger.entries ALTER COLUMN leaf_hash SET NOT NULL;
DROP TABLE ledger.log_keys;
