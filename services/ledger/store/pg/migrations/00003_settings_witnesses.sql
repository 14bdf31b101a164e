-- +goose Up

-- A tenant's choices about its ledgers (LedgerSettings); no row is the defaults.
CREATE TABLE ledger.settings (
  tenant_id            text COLLATE "C" NOT NULL,
  -- Serve the units' entry bundles (the leaves) without a token (C2SP tlog-tiles).
  public_entry_bundles boolean NOT NULL DEFAULT false,
  update_time          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

-- +goose Down
DROP TABLE ledger.settings;
