-- +goose Up
CREATE TABLE beta.gadgets (
  tenant_id text NOT NULL,
  id        text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE beta.gadgets;
