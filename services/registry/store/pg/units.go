package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// unitColumns are a unit's row and the display names its full name is made of: the tenant's,
// and those of the units on its path.
const unitColumns = `unit_id, parent_id, path, data, revision, create_time, update_time,
	(SELECT t.data->>'displayName' FROM registry.tenants t WHERE t.tenant_id = units.tenant_id),
	ARRAY(SELECT p.data->>'displayName' FROM unnest(units.path) WITH ORDINALITY AS x(id, o)
		JOIN registry.units p ON p.tenant_id = units.tenant_id AND p.unit_id = x.id ORDER BY x.o)`

// CreateUnit creates unit id under parentID (empty for a top-level unit), which must be a unit
// of this tenant, and returns it with its name, parent, times and etag set. A replay of idem's
// request returns the unit the first call created.
func (s *TenantStore) CreateUnit(ctx context.Context, id, parentID string, u *registryv1.Unit, idem Idem) (*registryv1.Unit, error) {
	var out *registryv1.Unit
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		name, replayed, err := idempotent(ctx, tx, s.tenant, idem, func() (string, error) {
			out = proto.Clone(u).(*registryv1.Unit)
			path := []string{id}
			out.Parent = ""
			if parentID != "" {
				var parentPath []string
				err := tx.QueryRow(ctx, `SELECT path FROM registry.units WHERE tenant_id = $1 AND unit_id = $2`,
					s.tenant, parentID).Scan(&parentPath)
				if errors.Is(err, pgx.ErrNoRows) {
					return "", apierr.Invalid(apierr.Violation{Field: "unit.parent", Rule: "exists",
						Description: names.Unit(s.tenant, parentID) + " does not exist"})
				}
				if err != nil {
					return "", fmt.Errorf("pg: read parent unit: %w", err)
				}
				path = append(parentPath, id)
				out.Parent = names.Unit(s.tenant, parentID)
			}
			now := clock(s.now)
			setMeta(out, names.Unit(s.tenant, id), now, now, 1)
			data, err := encode(out)
			if err != nil {
				return "", err
			}
			var parent *string
			if parentID != "" {
				parent = &parentID
			}
			tag, err := tx.Exec(ctx, `INSERT INTO registry.units
				(tenant_id, unit_id, parent_id, path, data, revision, create_time, update_time)
				VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT DO NOTHING`,
				s.tenant, id, parent, path, data, now)
			if isFKViolation(err) {
				return "", apierr.NotFound(names.Tenant(s.tenant))
			}
			if err != nil {
				return "", fmt.Errorf("pg: create unit: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return "", apierr.AlreadyExists(out.Name)
			}
			return out.Name, nil
		})
		if err != nil {
			return err
		}
		if !replayed { // read back for the full name, which the parents' names make
			out, err = s.with(tx).GetUnit(ctx, id)
			return err
		}
		t, u, err := names.ParseUnit("name", name)
		if err != nil || t != s.tenant {
			return fmt.Errorf("pg: request %s recorded %q, not a unit", idem.RequestID, name)
		}
		out, err = s.with(tx).GetUnit(ctx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanUnit reads a row of unitColumns.
func (s *TenantStore) scanUnit(row pgx.Row) (*registryv1.Unit, []string, error) {
	var (
		id     string
		parent *string
		path   []string
		data   []byte
		m      rowMeta
		tenant *string
		labels []string // the display names of the tenant and of the units on the path
	)
	if err := row.Scan(&id, &parent, &path, &data, &m.revision, &m.create, &m.update, &tenant, &labels); err != nil {
		return nil, nil, err
	}
	u := &registryv1.Unit{}
	if err := decode(data, u); err != nil {
		return nil, nil, err
	}
	if tenant != nil {
		labels = append([]string{*tenant}, labels...)
	}
	u.FullName = policy.FullName(labels...)
	m.set(u, names.Unit(s.tenant, id))
	u.Parent = ""
	if parent != nil {
		u.Parent = names.Unit(s.tenant, *parent)
	}
	return u, path, nil
}

// GetUnit returns unit id.
func (s *TenantStore) GetUnit(ctx context.Context, id string) (*registryv1.Unit, error) {
	u, _, err := s.scanUnit(s.db.QueryRow(ctx, `SELECT `+unitColumns+` FROM registry.units
		WHERE tenant_id = $1 AND unit_id = $2`, s.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Unit(s.tenant, id))
	}
	if err != nil {
		return nil, fmt.Errorf("pg: get unit: %w", err)
	}
	return u, nil
}

// ListUnits lists the tenant's units in tree order (depth first, parents before their children,
// siblings by id) and returns the next page token, empty on the last page.
func (s *TenantStore) ListUnits(ctx context.Context, pageSize int, pageToken string) ([]*registryv1.Unit, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	query := names.Query{"registry.units", s.tenant}
	after, err := query.Parse(pageToken, 0)
	if err != nil {
		return nil, "", err
	}
	if after == nil {
		after = []string{} // sorts before every path
	}
	units, paths, err := s.queryUnits(ctx, `SELECT `+unitColumns+` FROM registry.units
		WHERE tenant_id = $1 AND path > $2::text[] COLLATE "C"
		ORDER BY path LIMIT $3`, s.tenant, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(units) > limit {
		return units[:limit], query.Token(paths[limit-1]...), nil
	}
	return units, "", nil
}

func (s *TenantStore) queryUnits(ctx context.Context, query string, args ...any) ([]*registryv1.Unit, [][]string, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("pg: list units: %w", err)
	}
	var units []*registryv1.Unit
	var paths [][]string
	err = forEachRow(rows, func(r pgx.Rows) error {
		u, path, err := s.scanUnit(r)
		units, paths = append(units, u), append(paths, path)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pg: list units: %w", err)
	}
	return units, paths, nil
}

// UpdateUnit replaces the fields of the unit named u.name with u's if etag is empty or the unit's
// current etag, and returns the unit as stored. The parent cannot change: u.parent must be empty
// or the current parent.
func (s *TenantStore) UpdateUnit(ctx context.Context, u *registryv1.Unit, etag string) (*registryv1.Unit, error) {
	t, id, err := names.ParseUnit("unit.name", u.GetName())
	if err != nil {
		return nil, err
	}
	if t != s.tenant {
		return nil, apierr.NotFound(u.GetName())
	}
	name := u.GetName()
	out := proto.Clone(u).(*registryv1.Unit)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var parent *string
		m, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.units
			WHERE tenant_id = $1 AND unit_id = $2 FOR UPDATE`, s.tenant, id)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT parent_id FROM registry.units WHERE tenant_id = $1 AND unit_id = $2`,
			s.tenant, id).Scan(&parent)
		if err != nil {
			return fmt.Errorf("pg: update unit: %w", err)
		}
		current := ""
		if parent != nil {
			current = names.Unit(s.tenant, *parent)
		}
		if out.Parent != "" && out.Parent != current {
			return apierr.Invalid(apierr.Violation{Field: "unit.parent", Rule: "immutable",
				Description: "a unit's parent is set at creation and cannot change"})
		}
		out.Parent = current
		m.bump(s.now)
		m.set(out, name)
		data, err := encode(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE registry.units SET data = $3, revision = $4, update_time = $5
			WHERE tenant_id = $1 AND unit_id = $2`, s.tenant, id, data, m.revision, m.update)
		if err != nil {
			return err
		}
		out, err = s.with(tx).GetUnit(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UnitPath returns the ids of the units from the root unit down to unit id, inclusive: the units
// on whose subtrees a role grants access to id.
func (s *TenantStore) UnitPath(ctx context.Context, id string) ([]string, error) {
	var path []string
	err := s.db.QueryRow(ctx, `SELECT path FROM registry.units WHERE tenant_id = $1 AND unit_id = $2`,
		s.tenant, id).Scan(&path)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Unit(s.tenant, id))
	}
	if err != nil {
		return nil, fmt.Errorf("pg: unit path: %w", err)
	}
	return path, nil
}

// Subtree returns the descendants of unit id in tree order, without id itself.
func (s *TenantStore) Subtree(ctx context.Context, id string) ([]*registryv1.Unit, error) {
	if _, err := s.UnitPath(ctx, id); err != nil {
		return nil, err
	}
	// Unit ids are unique within a tenant, so the paths that contain id are exactly those of id
	// and its descendants.
	units, _, err := s.queryUnits(ctx, `SELECT `+unitColumns+` FROM registry.units
		WHERE tenant_id = $1 AND path @> ARRAY[$2::text] AND unit_id <> $2
		ORDER BY path`, s.tenant, id)
	return units, err
}
