-- +goose Up

-- Outsourcing contracts (LAW.md 9d, PIPA 26) join the registers: 'contracts', record_id the
-- processor's id.
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations', 'contracts'));

-- +goose Down
DELETE FROM registry.registers WHERE kind = 'contracts';
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations'));
