-- The request-workflow service's tables. Every primary key starts with tenant_id.

-- +goose Up
-- Receipt numbers {prefix}-{year}-{n}: n counts per tenant, prefix (R for data subjects' requests,
-- P for other bodies' provision requests) and year (Asia/Seoul), without gaps.
CREATE TABLE requests.receipts (
  tenant_id text   NOT NULL,
  prefix    text   NOT NULL,
  year      int    NOT NULL,
  last      bigint NOT NULL,
  PRIMARY KEY (tenant_id, prefix, year)
);

CREATE TABLE requests.requests (
  tenant_id    text        NOT NULL,
  receipt      text        NOT NULL,
  unit_id      text        NOT NULL,
  type         smallint    NOT NULL,
  state        smallint    NOT NULL,
  revision     bigint      NOT NULL DEFAULT 1,
  -- The Request without requester and subject (protojson), sealed with the data key (pkg/seal):
  -- what people write on a request (details, purpose, reasons) may name them.
  doc          bytea       NOT NULL,
  -- Requester, data subject and status secret, sealed.
  personal     bytea       NOT NULL,
  -- sha256 of the status secret, for the public status check.
  secret_hash  bytea       NOT NULL,
  receive_time timestamptz NOT NULL,
  -- The statutory due date (Asia/Seoul); NULL while deferred.
  due_date     date,
  create_time  timestamptz NOT NULL,
  update_time  timestamptz NOT NULL,
  close_time   timestamptz,
  PRIMARY KEY (tenant_id, receipt)
);
CREATE INDEX requests_by_unit ON requests.requests (tenant_id, unit_id, receipt DESC);
-- Undecided requests by due date: the D-3 and overdue views.
CREATE INDEX requests_open_by_due ON requests.requests (tenant_id, unit_id, due_date) WHERE state IN (1, 2);
-- The public status check knows only the receipt number (and the secret).
CREATE INDEX requests_by_receipt ON requests.requests (receipt);

-- Notices issued by decisions (별지 제9호·제10호), as issued.
CREATE TABLE requests.notices (
  tenant_id  text        NOT NULL,
  receipt    text        NOT NULL,
  seq        int         NOT NULL,
  -- The Notice (protojson, its rendering included), sealed: it names its recipient.
  doc        bytea       NOT NULL,
  issue_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, receipt, seq),
  FOREIGN KEY (tenant_id, receipt) REFERENCES requests.requests
);

-- The outbox: each step's ledger entry, written with the step, delivered by a job.
CREATE TABLE requests.steps (
  tenant_id    text        NOT NULL,
  receipt      text        NOT NULL,
  seq          int         NOT NULL,
  step         text        NOT NULL,
  -- The ledger AppendEntryRequest (protobuf), sealed: it carries the requester's name and contact.
  entry        bytea       NOT NULL,
  -- The step whose entry this one follows (an AMENDMENT), delivered first.
  follows_seq  int,
  ledger_index bigint,
  -- Why the ledger refused the entry, when it did: the step is recorded as failed, not retried.
  fail_reason  text,
  deliver_time timestamptz,
  create_time  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, receipt, seq),
  FOREIGN KEY (tenant_id, receipt) REFERENCES requests.requests
);
CREATE INDEX steps_pending ON requests.steps (tenant_id) WHERE ledger_index IS NULL AND fail_reason IS NULL;

-- Exactly idempotency.DDL("requests") of github.com/pipa-kr/pipa/pkg/idempotency.
CREATE TABLE requests.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

-- +goose Down
DROP TABLE requests.idempotency;
DROP TABLE requests.steps;
DROP TABLE requests.notices;
DROP TABLE requests.requests;
DROP TABLE requests.receipts;
