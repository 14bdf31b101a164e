-- +goose Up

-- Outsourcing contracts (LAW.md 9d, PIPA 26; 'contracts', record_id the processor's id) and
-- internal management plans (LAW.md 9f, S-4; 'internal_plans') join the registers.
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations', 'contracts', 'internal_plans'));

-- +goose Down
DELETE FROM registry.registers WHERE kind IN ('contracts', 'internal_plans');
ALTER TABLE registry.registers DROP CONSTRAINT registers_kind_check,
  ADD CONSTRAINT registers_kind_check CHECK (kind IN ('registrations', 'assessments', 'evaluations'));
