-- +goose Up
-- The outbound sends its messages itself (dispatch.go), no longer one River job each: a message
-- is due at next_time (when it was written, then when its backoff ends, or when the lease of the
-- dispatcher that took it runs out), NULL once delivered or given up. compose names the service's
-- Composer that makes the payload at send time from the reference the change wrote (a notice's
-- mail from the stored notice), '' when the payload is the message.
ALTER TABLE {schema}.outbound ADD COLUMN next_time timestamptz, ADD COLUMN compose text NOT NULL DEFAULT '';
UPDATE {schema}.outbound SET next_time = coalesce(attempt_time, create_time) WHERE deliver_time IS NULL AND fail_time IS NULL;
-- A message an earlier version still writes during a rolling deploy (with a River job no worker
-- of this version takes) is due at once; sent twice at worst, under its key.
ALTER TABLE {schema}.outbound ALTER COLUMN next_time SET DEFAULT now();
-- What is due, by channel: what a dispatcher claims (of the channels it can send) and the backlog
-- the outbound_pending gauge counts, in place of the index of 00002.
CREATE INDEX outbound_due ON {schema}.outbound (channel, next_time) WHERE deliver_time IS NULL AND fail_time IS NULL;
DROP INDEX {schema}.outbound_pending;
-- The River jobs of the earlier version, one per message: the messages they would send are due.
-- +goose StatementBegin
DO $$ BEGIN
  IF to_regclass('{schema}.river_job') IS NOT NULL THEN
    DELETE FROM {schema}.river_job WHERE kind = 'outbound.deliver';
  END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
CREATE INDEX outbound_pending ON {schema}.outbound (channel) WHERE deliver_time IS NULL AND fail_time IS NULL;
DROP INDEX {schema}.outbound_due;
ALTER TABLE {schema}.outbound DROP COLUMN next_time, DROP COLUMN compose;
