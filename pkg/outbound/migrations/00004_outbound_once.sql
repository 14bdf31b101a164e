-- +goose Up
-- What was sent once for good (an alert for a deadline): its key, so that a periodic job that
-- finds the same deadline again sends nothing. Its own migration, so that a schema that ran 00001
-- before the table existed gets it (IF NOT EXISTS: one whose 00001 already made it keeps it).
CREATE TABLE IF NOT EXISTS {schema}.outbound_once (
  tenant_id   text        NOT NULL,
  key         text        NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- +goose Down
DROP TABLE IF EXISTS {schema}.outbound_once;
