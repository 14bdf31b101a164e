-- +goose Up

-- Notices to the subjects of a marketing task (LAW.md 9d, PIPA-26-3; 'notices', record_id
-- "{processor}/{n}") join the registers: each is recorded once, with what it told. A contract
-- held its one notice as noticeDate/noticeMethod: it becomes the contract's notice 1, whose
-- processor and task were not recorded then and stay empty (the obligations list asks for a new
-- notice, as it cannot tell what the subjects were told).
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations', 'contracts', 'internal_plans', 'notices'));
INSERT INTO registry.registers (tenant_id, unit_id, kind, record_id, data, revision, create_time, update_time)
  SELECT tenant_id, unit_id, 'notices', record_id || '/1',
    jsonb_strip_nulls(jsonb_build_object('date', data->>'noticeDate', 'method', data->>'noticeMethod')), 1, update_time, update_time
  FROM registry.registers WHERE kind = 'contracts' AND data ? 'noticeDate';
UPDATE registry.registers SET data = data - 'noticeDate' - 'noticeMethod'
  WHERE kind = 'contracts' AND (data ? 'noticeDate' OR data ? 'noticeMethod');

-- +goose Down
UPDATE registry.registers c SET data = c.data || jsonb_strip_nulls(jsonb_build_object('noticeDate', n.data->>'date', 'noticeMethod', n.data->>'method'))
  FROM registry.registers n
  WHERE c.kind = 'contracts' AND n.kind = 'notices' AND n.tenant_id = c.tenant_id AND n.unit_id = c.unit_id
    AND n.record_id = c.record_id || '/1';
DELETE FROM registry.registers WHERE kind = 'notices';
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations', 'contracts', 'internal_plans'));
