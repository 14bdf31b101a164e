-- The tenant's choices about its access record (S-8-2): how many records a download may hold
-- without a stated reason (0: every download states one), and the review cycle in months
-- (0: monthly, the default).

-- +goose Up
ALTER TABLE ledger.settings
  ADD COLUMN download_reason_threshold integer NOT NULL DEFAULT 0 CHECK (download_reason_threshold >= 0),
  ADD COLUMN review_cycle_months integer NOT NULL DEFAULT 0 CHECK (review_cycle_months IN (0, 1, 2, 3, 4, 6, 12));

-- +goose Down
ALTER TABLE ledger.settings DROP COLUMN download_reason_threshold, DROP COLUMN review_cycle_months;
