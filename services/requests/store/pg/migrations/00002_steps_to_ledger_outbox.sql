-- The steps' ledger entries moved to the service's ledger outbox (pkg/ledgerout,
-- requests.ledger_outbox, which its own migrations create). An empty requests.steps goes here;
-- one that holds rows is carried over by the service when it starts (store/pg.AdoptSteps: its
-- entries are sealed, so only the service can open them) and then dropped.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM requests.steps) THEN
    DROP TABLE requests.steps;
  END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
-- The steps stay in the ledger outbox.
SELECT 1;
