package pg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// platformTenant is the tenant_id of idempotency records of platform-level creates (tenants),
// which belong to no tenant: a request_id is unique across the platform's creates.
const platformTenant = ""

// CreateTenant creates tenant id from t, setting its name, create and update time and etag, and
// returns it. A replay of idem's request returns the tenant the first call created. An id that is
// taken fails with AlreadyExists.
func (s *Store) CreateTenant(ctx context.Context, id string, t *registryv1.Tenant, idem Idem) (*registryv1.Tenant, error) {
	var out *registryv1.Tenant
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, replayed, err := idempotent(ctx, tx, platformTenant, idem, func() (string, error) {
			out = proto.Clone(t).(*registryv1.Tenant)
			now := clock(s.now)
			setMeta(out, names.Tenant(id), now, now, 1)
			data, err := encode(out)
			if err != nil {
				return "", err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO registry.tenants (tenant_id, data, revision, create_time, update_time)
				VALUES ($1, $2, 1, $3, $3) ON CONFLICT DO NOTHING`, id, data, now)
			if err != nil {
				return "", fmt.Errorf("pg: create tenant: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return "", apierr.AlreadyExists(names.Tenant(id))
			}
			return out.Name, nil
		})
		if err != nil || !replayed {
			return err
		}
		t, err := names.ParseTenant("name", name)
		if err != nil {
			return fmt.Errorf("pg: request %s recorded %q, not a tenant", idem.RequestID, name)
		}
		out, err = s.Tenant(t).with(tx).Get(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListTenants lists tenants in id order: all of them if all is set, else those of ids (the
// caller's own), skipping ids that do not exist. It returns the next page token, empty on the last
// page.
func (s *Store) ListTenants(ctx context.Context, all bool, ids []string, pageSize int, pageToken string) ([]*registryv1.Tenant, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	query := names.Query{"registry.tenants", strconv.FormatBool(all), strings.Join(ids, "/")}
	after, err := query.Parse(pageToken, 1)
	if err != nil {
		return nil, "", err
	}
	if after == nil {
		after = []string{""} // ids are never empty
	}
	if ids == nil {
		ids = []string{}
	}
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, data, revision, create_time, update_time
		FROM registry.tenants
		WHERE ($1 OR tenant_id = ANY ($2)) AND tenant_id > $3 COLLATE "C"
		ORDER BY tenant_id LIMIT $4`, all, ids, after[0], limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("pg: list tenants: %w", err)
	}
	var out []*registryv1.Tenant
	var ts []string
	err = forEachRow(rows, func(r pgx.Rows) error {
		var id string
		t, err := scanTenant(r, &id)
		out, ts = append(out, t), append(ts, id)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("pg: list tenants: %w", err)
	}
	if len(out) > limit {
		return out[:limit], query.Token(ts[limit-1]), nil
	}
	return out, "", nil
}

// scanTenant reads a row of (tenant_id, data, revision, create_time, update_time).
func scanTenant(row pgx.Row, id *string) (*registryv1.Tenant, error) {
	var m rowMeta
	var data []byte
	if err := row.Scan(id, &data, &m.revision, &m.create, &m.update); err != nil {
		return nil, err
	}
	t := &registryv1.Tenant{}
	if err := decode(data, t); err != nil {
		return nil, err
	}
	m.set(t, names.Tenant(*id))
	return t, nil
}

// Get returns the tenant.
func (s *TenantStore) Get(ctx context.Context) (*registryv1.Tenant, error) {
	var id string
	t, err := scanTenant(s.db.QueryRow(ctx, `SELECT tenant_id, data, revision, create_time, update_time
		FROM registry.tenants WHERE tenant_id = $1`, s.tenant), &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Tenant(s.tenant))
	}
	if err != nil {
		return nil, fmt.Errorf("pg: get tenant: %w", err)
	}
	return t, nil
}

// Update replaces the tenant's fields with t's (name and times are the store's) if etag is empty
// or the tenant's current etag, and returns the tenant as stored.
func (s *TenantStore) Update(ctx context.Context, t *registryv1.Tenant, etag string) (*registryv1.Tenant, error) {
	name := names.Tenant(s.tenant)
	if t.GetName() != "" && t.GetName() != name {
		return nil, apierr.NotFound(t.GetName())
	}
	out := proto.Clone(t).(*registryv1.Tenant)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.tenants
			WHERE tenant_id = $1 FOR UPDATE`, s.tenant)
		if err != nil {
			return err
		}
		m.bump(s.now)
		m.set(out, name)
		data, err := encode(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE registry.tenants SET data = $2, revision = $3, update_time = $4
			WHERE tenant_id = $1`, s.tenant, data, m.revision, m.update)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
