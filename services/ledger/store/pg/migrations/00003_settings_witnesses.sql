-- +goose Up

-- A tenant's choices about its ledgers (LedgerSettings); no row is the defaults.
CREATE TABLE ledger.settings (
  tenant_id            text COLLATE "C" NOT NULL,
  -- Serve the units' entry bundles (the leaves) without a token (C2SP tlog-tiles).
  public_entry_bundles boolean NOT NULL DEFAULT false,
  update_time          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

-- What each witness (C2SP tlog-witness) last cosigned of each log: the size it holds, which
-- the next add-checkpoint request names as its old size, and its cosignature of that tree; or
-- why it last refused or could not be reached.
CREATE TABLE ledger.witness_state (
  tenant_id     text COLLATE "C" NOT NULL,
  unit_id       text COLLATE "C" NOT NULL,
  -- The witness's cosignature key name.
  witness       text COLLATE "C" NOT NULL,
  size          bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
  -- The note signature line ("— {name} {base64}") over the log's checkpoint of that size.
  cosignature   text,
  last_error    text,
  attempt_time  timestamptz,
  update_time   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, unit_id, witness)
);

-- The latest checkpoint of each log that witnesses cosigned: the log's note with their
-- signature lines, as served.
CREATE TABLE ledger.cosigned (
  tenant_id   text COLLATE "C" NOT NULL,
  unit_id     text COLLATE "C" NOT NULL,
  size        bigint NOT NULL CHECK (size >= 0),
  note        text NOT NULL,
  witnesses   text[] NOT NULL,
  update_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, unit_id)
);

-- +goose Down
DROP TABLE ledger.cosigned;
DROP TABLE ledger.witness_state;
DROP TABLE ledger.settings;
