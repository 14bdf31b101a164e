-- +goose Up
CREATE TABLE widgets.widgets (
  tenant_id text NOT NULL,
  id        text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE widgets.widgets;
