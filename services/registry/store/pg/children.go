package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Kind is a kind of unit child resource; its value is the collection id in resource names.
type Kind string

// The kinds of unit child resources.
const (
	Officers   Kind = "officers"   // *registryv1.Officer
	Sites      Kind = "sites"      // *registryv1.Site
	Files      Kind = "files"      // *registryv1.PersonalInformationFile
	Processors Kind = "processors" // *registryv1.Processor
)

// kindInfo says what a kind holds and what its resources refer to.
type kindInfo struct {
	message  protoreflect.FullName
	singular string // the request field of the resource, e.g. "site"
	// refs returns the resource names m refers to, each with its field and the kind it must
	// name.
	refs func(m proto.Message) []ref
}

type ref struct {
	field string
	name  string
	kind  Kind
}

var kinds = map[Kind]kindInfo{
	Officers:   {message: (&registryv1.Officer{}).ProtoReflect().Descriptor().FullName(), singular: "officer"},
	Processors: {message: (&registryv1.Processor{}).ProtoReflect().Descriptor().FullName(), singular: "processor"},
	Sites: {
		message: (&registryv1.Site{}).ProtoReflect().Descriptor().FullName(), singular: "site",
		refs: func(m proto.Message) []ref {
			s := m.(*registryv1.Site)
			return []ref{
				{field: "site.manager", name: s.GetManager(), kind: Officers},
				{field: "site.processor", name: s.GetProcessor(), kind: Processors},
			}
		},
	},
	Files: {
		message: (&registryv1.PersonalInformationFile{}).ProtoReflect().Descriptor().FullName(), singular: "file",
		refs: func(m proto.Message) []ref {
			var refs []ref
			for i, p := range m.(*registryv1.PersonalInformationFile).GetProcessors() {
				refs = append(refs, ref{field: fmt.Sprintf("file.processors[%d]", i), name: p, kind: Processors})
			}
			return refs
		},
	},
}

// info returns kind's info, and checks that msg (if not nil) is a message of that kind.
func info(kind Kind, msg proto.Message) (kindInfo, error) {
	k, ok := kinds[kind]
	if !ok {
		return k, fmt.Errorf("pg: unknown resource kind %q", kind)
	}
	if msg != nil && msg.ProtoReflect().Descriptor().FullName() != k.message {
		return k, fmt.Errorf("pg: %s hold %s, not %s", kind, k.message, msg.ProtoReflect().Descriptor().FullName())
	}
	return k, nil
}

// lockRefs checks that the officers and processors msg refers to are resources of this tenant of
// the right kind, and locks them (FOR KEY SHARE) until the transaction ends, so that a concurrent
// DeleteChild of one of them waits and then sees the reference. It returns their names.
func (s *TenantStore) lockRefs(ctx context.Context, tx pgx.Tx, k kindInfo, unitID string, msg proto.Message) ([]string, error) {
	refs := []string{}
	if k.refs == nil {
		return refs, nil
	}
	var vs apierr.Violations
	for _, r := range k.refs(msg) {
		if r.name == "" {
			continue
		}
		t, refUnit, refID, err := collections[r.kind].Parse(r.field, r.name)
		if err != nil || t != s.tenant {
			vs.Add(r.field, "reference", "must be the name of one of this tenant's %s, tenants/%s/units/{unit}/%s/{id}",
				r.kind, s.tenant, r.kind)
			continue
		}
		// A resource may name an officer or processor of its own unit, of a unit above it (a
		// library office managing its branches) or below it — never of a sibling department.
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM registry.unit_resources r
			JOIN registry.units ref ON ref.tenant_id = r.tenant_id AND ref.unit_id = r.unit_id
			JOIN registry.units own ON own.tenant_id = r.tenant_id AND own.unit_id = $5
			WHERE r.tenant_id = $1 AND r.unit_id = $2 AND r.kind = $3 AND r.id = $4
			  AND (own.path @> ARRAY[ref.unit_id]::text[] COLLATE "C" OR ref.path @> ARRAY[own.unit_id]::text[] COLLATE "C")
			FOR KEY SHARE OF r`,
			s.tenant, refUnit, r.kind, refID, unitID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			vs.Add(r.field, "reference", "%s does not exist in this unit, the units above it or the units below it", r.name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pg: read %s: %w", r.name, err)
		}
		refs = append(refs, r.name)
	}
	return refs, vs.Err()
}

// CreateChild creates the resource id of kind in unit unitID from msg, a message of that kind,
// and sets msg's name, create_time, update_time and etag. The officers and processors that msg
// refers to (a site's manager and processor, a file's processors) must exist in this tenant. A
// replay of idem's request reads the resource the first call created into msg. On an error msg
// is left as it was.
func (s *TenantStore) CreateChild(ctx context.Context, kind Kind, unitID, id string, msg proto.Message, idem Idem) error {
	k, err := info(kind, msg)
	if err != nil {
		return err
	}
	name := childName(s.tenant, unitID, kind, id)
	var created *rowMeta // set when this call created the resource, not on a replay
	var outboxID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		created, outboxID = nil, 0
		recorded, replayed, err := idempotent(ctx, tx, s.tenant, idem, func() (string, error) {
			refs, err := s.lockRefs(ctx, tx, k, unitID, msg)
			if err != nil {
				return "", err
			}
			data, err := encode(msg)
			if err != nil {
				return "", err
			}
			now := clock(s.now)
			tag, err := tx.Exec(ctx, `INSERT INTO registry.unit_resources
				(tenant_id, unit_id, kind, id, refs, data, revision, create_time, update_time)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) ON CONFLICT DO NOTHING`,
				s.tenant, unitID, kind, id, refs, data, now)
			if isFKViolation(err) {
				return "", apierr.NotFound(names.Unit(s.tenant, unitID))
			}
			if err != nil {
				return "", fmt.Errorf("pg: create %s: %w", k.singular, err)
			}
			if tag.RowsAffected() == 0 {
				return "", apierr.AlreadyExists(name)
			}
			created = &rowMeta{revision: 1, create: now, update: now}
			outboxID, err = s.recordChange(ctx, tx, kind, unitID, name, nil, msg)
			return name, err
		})
		if err != nil || !replayed {
			return err
		}
		t, u, id, err := collections[kind].Parse("name", recorded)
		if err != nil || t != s.tenant {
			return fmt.Errorf("pg: request %s recorded %q, not one of %s", idem.RequestID, recorded, kind)
		}
		return s.with(tx).GetChild(ctx, kind, u, id, msg)
	})
	if err != nil {
		return err
	}
	if created != nil {
		created.set(msg, name)
	}
	s.deliverChange(ctx, kind, outboxID)
	return nil
}

// GetChild reads the resource id of kind in unit unitID into into, a message of that kind.
func (s *TenantStore) GetChild(ctx context.Context, kind Kind, unitID, id string, into proto.Message) error {
	if _, err := info(kind, into); err != nil {
		return err
	}
	name := childName(s.tenant, unitID, kind, id)
	var data []byte
	var m rowMeta
	err := s.db.QueryRow(ctx, `SELECT data, revision, create_time, update_time FROM registry.unit_resources
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4`,
		s.tenant, unitID, kind, id).Scan(&data, &m.revision, &m.create, &m.update)
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.NotFound(name)
	}
	if err != nil {
		return fmt.Errorf("pg: get %s: %w", name, err)
	}
	if err := decode(data, into); err != nil {
		return err
	}
	m.set(into, name)
	return nil
}

// ListChildren lists the resources of kind in the units unitIDs (none if unitIDs is empty),
// ordered by their unit's place in the tree and then by creation, making each with newMsg. It returns
// the next page token, empty on the last page; the token holds a position in the tree, so pass
// the same unitIDs with it.
func (s *TenantStore) ListChildren(ctx context.Context, kind Kind, unitIDs []string, pageSize int, pageToken string, newMsg func() proto.Message) ([]proto.Message, string, error) {
	if _, err := info(kind, nil); err != nil {
		return nil, "", err
	}
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	query := names.Query(append([]string{"registry." + string(kind), s.tenant}, unitIDs...))
	after, err := query.Parse(pageToken, 0)
	if err != nil {
		return nil, "", err
	}
	// The key is the unit's path, the creation time and the id, so that a unit's resources list
	// in the order they were entered (a policy's tables follow it); the empty path sorts before
	// every unit.
	afterPath, afterTime, afterID := []string{}, "-infinity", ""
	if len(after) >= 2 {
		afterPath, afterTime, afterID = after[:len(after)-2], after[len(after)-2], after[len(after)-1]
	}
	if len(unitIDs) == 0 {
		return nil, "", nil
	}
	rows, err := s.db.Query(ctx, `SELECT r.unit_id, r.id, u.path, r.data, r.revision, r.create_time, r.update_time
		FROM registry.unit_resources r
		JOIN registry.units u ON u.tenant_id = r.tenant_id AND u.unit_id = r.unit_id
		WHERE r.tenant_id = $1 AND u.tenant_id = $1 AND r.kind = $2 AND r.unit_id = ANY ($3)
		  AND (u.path, r.create_time, r.id) > ($4::text[] COLLATE "C", $7::timestamptz, $5::text COLLATE "C")
		ORDER BY u.path, r.create_time, r.id LIMIT $6`, s.tenant, kind, unitIDs, afterPath, afterID, limit+1, afterTime)
	if err != nil {
		return nil, "", fmt.Errorf("pg: list %s: %w", kind, err)
	}
	var out []proto.Message
	var keys [][]string
	err = forEachRow(rows, func(r pgx.Rows) error {
		var unitID, id string
		var path []string
		var data []byte
		var m rowMeta
		if err := r.Scan(&unitID, &id, &path, &data, &m.revision, &m.create, &m.update); err != nil {
			return err
		}
		msg := newMsg()
		if _, err := info(kind, msg); err != nil {
			return err
		}
		if err := decode(data, msg); err != nil {
			return err
		}
		m.set(msg, childName(s.tenant, unitID, kind, id))
		out, keys = append(out, msg), append(keys, append(path, m.create.Format(time.RFC3339Nano), id))
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("pg: list %s: %w", kind, err)
	}
	if len(out) > limit {
		return out[:limit], query.Token(keys[limit-1]...), nil
	}
	return out, "", nil
}

// UpdateChild replaces the fields of the resource id of kind in unit unitID with msg's if etag is
// empty or the resource's current etag, and sets msg's name, times and etag to the stored ones.
func (s *TenantStore) UpdateChild(ctx context.Context, kind Kind, unitID, id string, msg proto.Message, etag string) error {
	k, err := info(kind, msg)
	if err != nil {
		return err
	}
	name := childName(s.tenant, unitID, kind, id)
	var stored rowMeta
	var outboxID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.unit_resources
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4 FOR UPDATE`,
			s.tenant, unitID, kind, id)
		if err != nil {
			return err
		}
		refs, err := s.lockRefs(ctx, tx, k, unitID, msg)
		if err != nil {
			return err
		}
		before, err := s.lockedChild(ctx, tx, kind, unitID, id)
		if err != nil {
			return err
		}
		m.bump(s.now)
		data, err := encode(msg) // without the fields in key columns, so msg's own do not matter
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE registry.unit_resources SET data = $5, refs = $6, revision = $7, update_time = $8
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4`,
			s.tenant, unitID, kind, id, data, refs, m.revision, m.update); err != nil {
			return err
		}
		stored = m
		outboxID, err = s.recordChange(ctx, tx, kind, unitID, name, before, msg)
		return err
	})
	if err != nil {
		return err
	}
	stored.set(msg, name)
	s.deliverChange(ctx, kind, outboxID)
	return nil
}

// DeleteChild deletes the resource id of kind in unit unitID if etag is empty or its current
// etag. An officer or processor that a site or file of the tenant still refers to is not deleted:
// that fails with FailedPrecondition IN_USE naming the resources that refer to it.
func (s *TenantStore) DeleteChild(ctx context.Context, kind Kind, unitID, id, etag string) error {
	if _, err := info(kind, nil); err != nil {
		return err
	}
	name := childName(s.tenant, unitID, kind, id)
	var outboxID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock waits for writers that hold it FOR KEY SHARE (lockRefs), so the query
		// below sees every reference that committed before the delete.
		if _, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.unit_resources
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4 FOR UPDATE`,
			s.tenant, unitID, kind, id); err != nil {
			return err
		}
		before, err := s.lockedChild(ctx, tx, kind, unitID, id)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT unit_id, kind, id FROM registry.unit_resources
			WHERE tenant_id = $1 AND refs @> ARRAY[$2::text]
			ORDER BY unit_id, kind, id LIMIT 100`, s.tenant, name)
		if err != nil {
			return fmt.Errorf("pg: delete %s: %w", name, err)
		}
		var users []string
		err = forEachRow(rows, func(r pgx.Rows) error {
			var u, id string
			var k Kind
			if err := r.Scan(&u, &k, &id); err != nil {
				return err
			}
			users = append(users, childName(s.tenant, u, k, id))
			return nil
		})
		if err != nil {
			return fmt.Errorf("pg: delete %s: %w", name, err)
		}
		if len(users) > 0 {
			e := apierr.Precondition("IN_USE", fmt.Sprintf("%s is still referred to by %s; change those first",
				name, strings.Join(users, ", ")))
			e.Metadata = map[string]string{"resource": name, "referenced_by": strings.Join(users, ",")}
			return e
		}
		_, err = tx.Exec(ctx, `DELETE FROM registry.unit_resources
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4`, s.tenant, unitID, kind, id)
		if err != nil {
			return fmt.Errorf("pg: delete %s: %w", name, err)
		}
		outboxID, err = s.recordChange(ctx, tx, kind, unitID, name, before, nil)
		return err
	})
	if err != nil {
		return err
	}
	s.deliverChange(ctx, kind, outboxID)
	return nil
}
