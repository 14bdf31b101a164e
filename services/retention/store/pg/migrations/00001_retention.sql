-- The retention service's tables. Every primary key starts with tenant_id.

-- +goose Up
-- +goose StatementBegin
-- A period of N days that starts at t ends at the end of day date(t)+N in Asia/Seoul: a 30-day
-- recording of 10-30 is kept through 11-29 and due from 11-30 00:00 (STD-41-2). The one place
-- where a due time is computed.
CREATE FUNCTION retention.due_time(start timestamptz, days int) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (((start AT TIME ZONE 'Asia/Seoul')::date + days + 1)::timestamp AT TIME ZONE 'Asia/Seoul') $$;
-- +goose StatementEnd

-- +goose StatementBegin
-- STD-10-1 (C-10 for CCTV): destroyed "without delay" means within 5 days of the due time; what
-- is not destroyed by then, and not held, is overdue. The one place where that rule is.
CREATE FUNCTION retention.overdue_time(due timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((due AT TIME ZONE 'Asia/Seoul') + interval '5 days') AT TIME ZONE 'Asia/Seoul' $$;
-- +goose StatementEnd

CREATE TABLE retention.rules (
  tenant_id   text        NOT NULL,
  unit_id     text        NOT NULL,
  rule_id     text        NOT NULL,
  target      smallint    NOT NULL,
  -- The site or file it covers; empty for a category of the platform's own records.
  resource    text        NOT NULL,
  -- A site rule's zone (the registry's zone_retentions), kept for the zone's period; empty for
  -- the site's other recordings.
  zone        text        NOT NULL DEFAULT '',
  action      smallint    NOT NULL,
  period_days int         NOT NULL CHECK (period_days > 0),
  -- The Rule as created and updated (protojson), without name, etag and times.
  doc         jsonb       NOT NULL,
  -- Site rules: recording days from start_date (the create day less the period: the footage
  -- already recorded) are items; generated_through is the last made.
  start_date  date        NOT NULL,
  generated_through date,
  revision    bigint      NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  -- A deleted rule takes no new items, but what it keeps is still destroyed when due.
  delete_time timestamptz,
  PRIMARY KEY (tenant_id, unit_id, rule_id)
);
-- One live rule per site (and zone) or file: two would record every destruction twice.
CREATE UNIQUE INDEX rules_by_resource ON retention.rules (tenant_id, unit_id, resource, zone)
  WHERE resource <> '' AND delete_time IS NULL;

CREATE SEQUENCE retention.ids;

CREATE TABLE retention.holds (
  tenant_id      text        NOT NULL,
  hold_id        bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id        text        NOT NULL,
  -- The site, file or request it covers; a site hold covers [start_time, end_time).
  scope          text        NOT NULL,
  start_time     timestamptz,
  end_time       timestamptz,
  -- The Hold as created (protojson), without the release fields.
  doc            jsonb       NOT NULL,
  create_time    timestamptz NOT NULL,
  release_time   timestamptz,
  released_by    text,
  release_reason text,
  PRIMARY KEY (tenant_id, hold_id)
);
CREATE INDEX holds_active ON retention.holds (tenant_id, unit_id, scope) WHERE release_time IS NULL;

-- What gets destroyed. status: 1 kept, 2 being destroyed (its batch's ledger entry is in the
-- outbox), 3 in a plan, 4 destroyed. Due, held and overdue follow from the time and the holds.
CREATE TABLE retention.items (
  tenant_id        text        NOT NULL,
  item_id          bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id          text        NOT NULL,
  rule_id          text        NOT NULL,
  status           smallint    NOT NULL,
  -- What a hold names to cover it: the rule's site (for its zones' items too) or file, or the
  -- item's request.
  scope            text        NOT NULL,
  -- Site items: the recording day in Asia/Seoul, which a site hold's range must overlap.
  span_start       timestamptz,
  span_end         timestamptz,
  recording_date   date,
  description      text        NOT NULL,
  record_count     bigint      NOT NULL DEFAULT 0,
  resource         text        NOT NULL DEFAULT '',
  clock_start_time timestamptz NOT NULL,
  due_time         timestamptz NOT NULL,
  plan_id          bigint,
  -- The outbox row whose ledger entry records its destruction.
  batch_id         bigint,
  destruction_time timestamptz,
  ledger_index     bigint,
  -- Plan items of requests and ledger entries: when their personal fields were erased.
  erase_time       timestamptz,
  create_time      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, item_id),
  FOREIGN KEY (tenant_id, unit_id, rule_id) REFERENCES retention.rules
);
CREATE UNIQUE INDEX items_by_day ON retention.items (tenant_id, unit_id, rule_id, recording_date)
  WHERE recording_date IS NOT NULL;
CREATE UNIQUE INDEX items_by_resource ON retention.items (tenant_id, unit_id, rule_id, resource)
  WHERE resource <> '';
-- The sweep's scan: items still kept, by rule and due time.
CREATE INDEX items_kept ON retention.items (tenant_id, unit_id, rule_id, due_time, item_id) WHERE status = 1;
-- Everything not destroyed, for the counts and the overdue list.
CREATE INDEX items_open ON retention.items (tenant_id, unit_id, due_time) WHERE status < 4;
CREATE INDEX items_by_unit ON retention.items (tenant_id, unit_id, item_id);
CREATE INDEX items_by_plan ON retention.items (tenant_id, plan_id, item_id) WHERE plan_id IS NOT NULL;
CREATE INDEX items_by_batch ON retention.items (tenant_id, batch_id) WHERE status = 2;

-- 파기요청서 (STD-55 별지4) and, once completed, the certificate and the 별지5 rows.
CREATE TABLE retention.plans (
  tenant_id   text        NOT NULL,
  plan_id     bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id     text        NOT NULL,
  state       smallint    NOT NULL,
  -- The Plan (protojson) without items, name and etag.
  doc         jsonb       NOT NULL,
  -- The earliest due time of its items: STD-10-1's 5 days run from it.
  first_due   timestamptz NOT NULL,
  revision    bigint      NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, plan_id)
);
CREATE INDEX plans_by_unit ON retention.plans (tenant_id, unit_id, plan_id);

-- The ledger entries this service must append (DESTRUCTION for a sweep's batch, a confirmed
-- deletion, a plan's rule or a returned copy; AMENDMENT for a copy's outcome or the quarter's
-- check), written with the change that needs them and delivered under the request_id
-- retention/entries/{id}, so that a retry or a second sweeper appends once.
CREATE TABLE retention.outbox (
  tenant_id    text        NOT NULL,
  id           bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id      text        NOT NULL,
  -- The ledger AppendEntryRequest (protobuf).
  entry        bytea       NOT NULL,
  occur_time   timestamptz NOT NULL,
  -- The entry that must be appended first (a returned copy's RETURN before its DESTRUCTION).
  after_id     bigint,
  ledger_index bigint,
  -- The appended leaf's hash, as the ledger gave it: a certificate commits to it.
  leaf_hash    bytea,
  create_time  timestamptz NOT NULL,
  deliver_time timestamptz,
  -- The ledger refused the entry for good (invalid): what it was to record was undone.
  refuse_time  timestamptz,
  refusal      text,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_pending ON retention.outbox (tenant_id) WHERE ledger_index IS NULL AND refuse_time IS NULL;
CREATE INDEX outbox_after ON retention.outbox (tenant_id, after_id) WHERE after_id IS NOT NULL;

-- Copies handed to other bodies (C-9), chased until destroyed or returned.
CREATE TABLE retention.copies (
  tenant_id          text        NOT NULL,
  copy_id            bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id            text        NOT NULL,
  provision_index    bigint      NOT NULL,
  -- The state and destruction due date, as the ledger records them: an outcome changes them
  -- once its entries are appended.
  state              smallint    NOT NULL,
  due_date           date        NOT NULL,
  public_recipient   boolean     NOT NULL,
  -- The Copy (protojson) without state, due date, outcomes, reminders, name and etag.
  doc                jsonb       NOT NULL,
  reminders          int         NOT NULL DEFAULT 0,
  last_reminder_time timestamptz,
  revision           bigint      NOT NULL DEFAULT 1,
  create_time        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, copy_id)
);
CREATE UNIQUE INDEX copies_by_provision ON retention.copies (tenant_id, unit_id, provision_index);
CREATE INDEX copies_out ON retention.copies (tenant_id, unit_id, due_date) WHERE state = 1;

-- An outcome changes its copy (new_state, new_due_date) once its AMENDMENT (outbox_id) and, for a
-- returned copy, the DESTRUCTION that follows it (destruction_outbox_id) are in the ledger.
CREATE TABLE retention.copy_outcomes (
  tenant_id             text     NOT NULL,
  copy_id               bigint   NOT NULL,
  seq                   int      NOT NULL,
  -- The CopyOutcome (protojson) without its ledger indexes.
  doc                   jsonb    NOT NULL,
  new_state             smallint NOT NULL,
  new_due_date          date,
  outbox_id             bigint   NOT NULL,
  ledger_index          bigint,
  destruction_outbox_id bigint,
  destruction_index     bigint,
  PRIMARY KEY (tenant_id, copy_id, seq),
  FOREIGN KEY (tenant_id, copy_id) REFERENCES retention.copies
);
CREATE INDEX copy_outcomes_by_outbox ON retention.copy_outcomes (tenant_id, outbox_id);
CREATE INDEX copy_outcomes_by_destruction ON retention.copy_outcomes (tenant_id, destruction_outbox_id)
  WHERE destruction_outbox_id IS NOT NULL;

-- The quarterly check of public recipients' replies (C-9): which copies were still out.
CREATE TABLE retention.copy_checks (
  tenant_id  text        NOT NULL,
  unit_id    text        NOT NULL,
  quarter    text        NOT NULL,
  check_time timestamptz NOT NULL,
  copies_out text[]      NOT NULL,
  overdue    int         NOT NULL,
  PRIMARY KEY (tenant_id, unit_id, quarter)
);

-- Each sweep's record: what it destroyed, planned, found held and overdue, and the active holds
-- it checked.
CREATE TABLE retention.sweeps (
  tenant_id     text        NOT NULL,
  sweep_id      bigint      NOT NULL DEFAULT nextval('retention.ids'),
  unit_id       text        NOT NULL,
  sweep_time    timestamptz NOT NULL,
  destroyed     bigint      NOT NULL,
  planned       bigint      NOT NULL,
  held          bigint      NOT NULL,
  overdue       bigint      NOT NULL,
  holds_checked text[]      NOT NULL,
  plans         text[]      NOT NULL,
  PRIMARY KEY (tenant_id, sweep_id)
);
CREATE INDEX sweeps_by_unit ON retention.sweeps (tenant_id, unit_id, sweep_id DESC);

-- One Ed25519 note key per tenant signs its destruction certificates.
CREATE TABLE retention.keys (
  tenant_id    text        NOT NULL,
  -- The note signer key, sealed with the data key (associated data: the tenant).
  signer_skey  bytea       NOT NULL,
  verifier_key text        NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

-- Exactly idempotency.DDL("retention") of github.com/pipa-kr/pipa/pkg/idempotency.
CREATE TABLE retention.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

-- +goose Down
DROP TABLE retention.idempotency;
DROP TABLE retention.keys;
DROP TABLE retention.sweeps;
DROP TABLE retention.copy_checks;
DROP TABLE retention.copy_outcomes;
DROP TABLE retention.copies;
DROP TABLE retention.outbox;
DROP TABLE retention.plans;
DROP TABLE retention.items;
DROP TABLE retention.holds;
DROP SEQUENCE retention.ids;
DROP TABLE retention.rules;
DROP FUNCTION retention.overdue_time(timestamptz);
DROP FUNCTION retention.due_time(timestamptz, int);
