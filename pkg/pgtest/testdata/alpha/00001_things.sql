-- +goose Up
CREATE TABLE alpha.things (
  tenant_id text NOT NULL,
  id        text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE alpha.things;
