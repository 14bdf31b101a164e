package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AccessPass is one of a unit's passes over its ACCESS entries (migration 00005).
type AccessPass string

const (
	// PassSeen notes the systems of new entries.
	PassSeen AccessPass = "seen"
	// PassShort redacts the due records of one-year systems.
	PassShort AccessPass = "short"
	// PassLong redacts the due records of any system.
	PassLong AccessPass = "long"
)

// AccessCursor is where a pass stands: the ledger's page token of the page it is on ("" for the
// first) and how many entries of that page it has settled.
type AccessCursor struct {
	Token string
	Skip  int
}

// ClaimAccess takes the unit's access-record lease until until and returns its passes' cursors;
// ok is false while another sweeper holds it.
func (s *Store) ClaimAccess(ctx context.Context, tenant, unit string, until time.Time) (map[AccessPass]AccessCursor, bool, error) {
	var c [3]AccessCursor
	err := s.pool.QueryRow(ctx, `INSERT INTO retention.access_scans (tenant_id, unit_id, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, unit_id) DO UPDATE SET lease_until = EXCLUDED.lease_until
			WHERE access_scans.lease_until < clock_timestamp()
		RETURNING seen_token, seen_skip, short_token, short_skip, long_token, long_skip`, tenant, unit, until).
		Scan(&c[0].Token, &c[0].Skip, &c[1].Token, &c[1].Skip, &c[2].Token, &c[2].Skip)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("retention store: claim access records of %s/%s: %w", tenant, unit, err)
	}
	return map[AccessPass]AccessCursor{PassSeen: c[0], PassShort: c[1], PassLong: c[2]}, true, nil
}

// SaveAccess records where pass stands.
func (s *Store) SaveAccess(ctx context.Context, tenant, unit string, pass AccessPass, c AccessCursor) error {
	_, err := s.pool.Exec(ctx, fmt.Sprintf(`UPDATE retention.access_scans SET %[1]s_token = $3, %[1]s_skip = $4
		WHERE tenant_id = $1 AND unit_id = $2`, pass), tenant, unit, c.Token, c.Skip)
	return err
}

// ReleaseAccess gives the unit's access-record lease back.
func (s *Store) ReleaseAccess(ctx context.Context, tenant, unit string) error {
	_, err := s.pool.Exec(ctx, `UPDATE retention.access_scans SET lease_until = '-infinity' WHERE tenant_id = $1 AND unit_id = $2`,
		tenant, unit)
	return err
}

// SetAccessSystems records the period (years) applied to each of the unit's systems, first seen
// at at when new.
func (s *Store) SetAccessSystems(ctx context.Context, tenant, unit string, years map[string]int, at time.Time) error {
	if len(years) == 0 {
		return nil
	}
	systems, ys := make([]string, 0, len(years)), make([]int32, 0, len(years))
	for sys, y := range years {
		systems, ys = append(systems, sys), append(ys, int32(y))
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO retention.access_systems (tenant_id, unit_id, system, first_seen, years)
		SELECT $1, $2, s, $4, y FROM unnest($3::text[], $5::smallint[]) AS t(s, y)
		ON CONFLICT (tenant_id, unit_id, system) DO UPDATE SET years = EXCLUDED.years`, tenant, unit, systems, at, ys)
	return err
}

// AccessSystems are the systems the unit's access records name, with the period last applied.
func (s *Store) AccessSystems(ctx context.Context, tenant, unit string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT system, years FROM retention.access_systems WHERE tenant_id = $1 AND unit_id = $2`,
		tenant, unit)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var sys string
	var y int16
	_, err = pgx.ForEachRow(rows, []any{&sys, &y}, func() error {
		out[sys] = int(y)
		return nil
	})
	return out, err
}
