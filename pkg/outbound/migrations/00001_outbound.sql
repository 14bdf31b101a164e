-- What leaves the service whose schema ({schema}) it lives in: mail, text messages and webhook
-- deliveries (pkg/outbound), the events they carry and the webhook subscriptions. pkg/outbound
-- substitutes the schema and applies this with its own version table, {schema}.outbound_db_version.

-- +goose Up
CREATE SEQUENCE {schema}.outbound_ids;

-- Each message to send, written in the transaction of the change that causes it, and what became
-- of it: the delivery record (what, to whom, when, the receiver's answer).
CREATE TABLE {schema}.outbound (
  tenant_id       text        NOT NULL,
  id              bigint      NOT NULL,
  -- mail, sms or webhook; the target is who receives it in the service's terms (requester,
  -- officers of a unit, a subscription's id), never an address in clear.
  channel         text        NOT NULL,
  target          text        NOT NULL,
  -- What it is about (a request's name) and what it is (notice 1, an event's type).
  subject         text        NOT NULL DEFAULT '',
  label           text        NOT NULL DEFAULT '',
  -- The key the receiver deduplicates on: a Message-ID, a webhook-id. A replay reuses it.
  idempotency_key text        NOT NULL,
  -- The message as its channel sends it, sealed with the data key when it names a person.
  payload         bytea       NOT NULL,
  sealed          boolean     NOT NULL,
  create_time     timestamptz NOT NULL,
  attempts        integer     NOT NULL DEFAULT 0,
  attempt_time    timestamptz,
  answer          text        NOT NULL DEFAULT '',
  deliver_time    timestamptz,
  -- Given up: a permanent refusal, or its retries spent.
  fail_time       timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbound_subject ON {schema}.outbound (tenant_id, subject, id);
CREATE INDEX outbound_target ON {schema}.outbound (tenant_id, channel, target, id);

-- Webhook subscriptions: a tenant's (unit_id '') or one unit's events of the given types (none:
-- all) posted to url, signed with the sealed whsec_ secret (Standard Webhooks).
CREATE TABLE {schema}.subscriptions (
  tenant_id      text        NOT NULL,
  id             text        NOT NULL,
  unit_id        text        NOT NULL DEFAULT '',
  url            text        NOT NULL,
  types          text[]      NOT NULL,
  secret         bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  disable_time   timestamptz,
  disable_reason text        NOT NULL DEFAULT '',
  PRIMARY KEY (tenant_id, id)
);

CREATE SEQUENCE {schema}.event_seq;

-- Every event the service emitted, CloudEvents 1.0 in JSON, for replay of a range.
CREATE TABLE {schema}.events (
  tenant_id  text        NOT NULL,
  seq        bigint      NOT NULL,
  id         text        NOT NULL,
  unit_id    text        NOT NULL,
  type       text        NOT NULL,
  body       bytea       NOT NULL,
  event_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX events_time ON {schema}.events (tenant_id, event_time);

-- +goose Down
DROP TABLE {schema}.events;
DROP SEQUENCE {schema}.event_seq;
DROP TABLE {schema}.subscriptions;
DROP TABLE {schema}.outbound;
DROP SEQUENCE {schema}.outbound_ids;
