-- A plan's first due time is derived from its items (plans.go planFirstDue), so that it follows
-- items leaving the plan; a stored copy went stale when they did (STD-10-1's 5 days).

-- +goose Up
ALTER TABLE retention.plans DROP COLUMN first_due;

-- +goose Down
ALTER TABLE retention.plans ADD COLUMN first_due timestamptz;
UPDATE retention.plans p SET first_due = coalesce((SELECT min(i.due_time) FROM retention.items i
  WHERE i.tenant_id = p.tenant_id AND i.plan_id = p.plan_id), p.create_time);
ALTER TABLE retention.plans ALTER COLUMN first_due SET NOT NULL;
