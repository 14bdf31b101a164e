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
)

// CreateAttestation stores attestation id about unit unitID and returns it with its name, times and
// etag; a replay of idem's request returns the first one.
func (s *TenantStore) CreateAttestation(ctx context.Context, id, unitID string, a *registryv1.Attestation, idem Idem) (*registryv1.Attestation, error) {
	var out *registryv1.Attestation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		name, replayed, err := idempotent(ctx, tx, s.tenant, idem, func() (string, error) {
			out = proto.CloneOf(a)
			now := clock(s.now)
			setMeta(out, names.Attestations.Name(s.tenant, id), now, now, 1)
			data, err := encode(out)
			if err != nil {
				return "", err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO registry.attestations
				(tenant_id, attestation_id, unit_id, data, revision, create_time, update_time)
				VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT DO NOTHING`, s.tenant, id, unitID, data, now)
			if isFKViolation(err) {
				return "", apierr.Invalid(apierr.Violation{Field: "attestation.unit", Rule: "exists",
					Description: names.Unit(s.tenant, unitID) + " does not exist"})
			}
			if err != nil {
				return "", fmt.Errorf("pg: create attestation: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return "", apierr.AlreadyExists(out.GetName())
			}
			return out.GetName(), nil
		})
		if err != nil || !replayed {
			return err
		}
		t, aid, err := names.Attestations.Parse("name", name)
		if err != nil || t != s.tenant {
			return fmt.Errorf("pg: request %s recorded %q, not an attestation", idem.RequestID, name)
		}
		out, err = s.with(tx).GetAttestation(ctx, aid)
		return err
	})
	return out, err
}

const attestationColumns = `attestation_id, data, revision, create_time, update_time`

func (s *TenantStore) scanAttestation(row pgx.Row) (*registryv1.Attestation, error) {
	var (
		id   string
		data []byte
		m    rowMeta
	)
	if err := row.Scan(&id, &data, &m.revision, &m.create, &m.update); err != nil {
		return nil, err
	}
	a := &registryv1.Attestation{}
	if err := decode(data, a); err != nil {
		return nil, err
	}
	m.set(a, names.Attestations.Name(s.tenant, id))
	return a, nil
}

// GetAttestation returns attestation id.
func (s *TenantStore) GetAttestation(ctx context.Context, id string) (*registryv1.Attestation, error) {
	a, err := s.scanAttestation(s.db.QueryRow(ctx, `SELECT `+attestationColumns+` FROM registry.attestations
		WHERE tenant_id = $1 AND attestation_id = $2`, s.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Attestations.Name(s.tenant, id))
	}
	if err != nil {
		return nil, fmt.Errorf("pg: get attestation: %w", err)
	}
	return a, nil
}

// ListAttestations lists the tenant's attestations by id, those about unitID only when it is set.
func (s *TenantStore) ListAttestations(ctx context.Context, unitID string, pageSize int, pageToken string) ([]*registryv1.Attestation, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	query := names.Query{"registry.attestations", s.tenant, unitID}
	after, err := query.Parse(pageToken, 1)
	if err != nil {
		return nil, "", err
	}
	if after == nil {
		after = []string{""}
	}
	rows, err := s.db.Query(ctx, `SELECT `+attestationColumns+` FROM registry.attestations
		WHERE tenant_id = $1 AND ($2 = '' OR unit_id = $2) AND attestation_id > $3
		ORDER BY attestation_id LIMIT $4`, s.tenant, unitID, after[0], limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("pg: list attestations: %w", err)
	}
	var out []*registryv1.Attestation
	err = forEachRow(rows, func(r pgx.Rows) error {
		a, err := s.scanAttestation(r)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("pg: list attestations: %w", err)
	}
	if len(out) > limit {
		return out[:limit], query.Token(names.Last(out[limit-1].GetName())), nil
	}
	return out, "", nil
}

// UnitAttestations returns every attestation about unit unitID of a policy kind, by id, for a
// version's snapshot.
func (s *TenantStore) UnitAttestations(ctx context.Context, unitID string, kind registryv1.PolicyKind) ([]*registryv1.Attestation, error) {
	rows, err := s.db.Query(ctx, `SELECT `+attestationColumns+` FROM registry.attestations
		WHERE tenant_id = $1 AND unit_id = $2 AND data->>'kind' = $3 ORDER BY attestation_id`, s.tenant, unitID, kind.String())
	if err != nil {
		return nil, fmt.Errorf("pg: unit attestations: %w", err)
	}
	var out []*registryv1.Attestation
	err = forEachRow(rows, func(r pgx.Rows) error {
		a, err := s.scanAttestation(r)
		out = append(out, a)
		return err
	})
	return out, err
}

// DeleteAttestation deletes attestation id if etag is empty or its current etag.
func (s *TenantStore) DeleteAttestation(ctx context.Context, id, etag string) error {
	name := names.Attestations.Name(s.tenant, id)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.attestations
			WHERE tenant_id = $1 AND attestation_id = $2 FOR UPDATE`, s.tenant, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM registry.attestations WHERE tenant_id = $1 AND attestation_id = $2`, s.tenant, id)
		return err
	})
}
