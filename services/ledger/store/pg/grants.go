package pg

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/rolechange"
)

// OperatorTenant is the tenant_id under which grants on "*" (the platform operator) are kept:
// they touch no one tenant.
const OperatorTenant = "-"

// RoleGrant is one account's roles in one tenant as they were and became (S-5).
type RoleGrant struct {
	Tenant                               string
	ID                                   int64
	Issuer, Subject, DisplayName, Source string
	// Change is rolechange.Granted, Changed or Revoked.
	Change        string
	Before, After []string
	RecordTime    time.Time
	KeepUntil     time.Time
}

// Presented is the role set an account presented: its grants grouped by tenant (OperatorTenant
// for "*"), each "role scope".
type Presented struct {
	Issuer, Subject, DisplayName, Source string
	ByTenant                             map[string][]string
	At                                   time.Time
}

// RecordRoleGrants keeps a RoleGrant for each tenant whose part of p differs from the last one
// recorded for the account: a tenant new to it is a grant, one missing from it a revocation. The
// account's records are compared and written under a lock on the account, so two replicas seeing
// the same new set record it once. It returns what it recorded, nothing when nothing changed.
func (s *Store) RecordRoleGrants(ctx context.Context, p Presented) ([]RoleGrant, error) {
	var out []RoleGrant
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		out = nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ledger.role_grants ' || $1 || ' ' || $2, 0))`,
			p.Issuer, p.Subject); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT ON (tenant_id) tenant_id, after FROM ledger.role_grants
			WHERE issuer = $1 AND subject = $2 ORDER BY tenant_id, id DESC`, p.Issuer, p.Subject)
		if err != nil {
			return err
		}
		last := map[string][]string{}
		var tenant string
		var after []string
		if _, err := pgx.ForEachRow(rows, []any{&tenant, &after}, func() error {
			last[tenant] = after
			return nil
		}); err != nil {
			return err
		}
		tenants := slices.Collect(maps.Keys(last))
		for t := range p.ByTenant {
			if _, seen := last[t]; !seen {
				tenants = append(tenants, t)
			}
		}
		slices.Sort(tenants)
		for _, t := range tenants {
			before, after := rolechange.Set(last[t]).Normal(), rolechange.Set(p.ByTenant[t]).Normal()
			if slices.Equal(before, after) {
				continue
			}
			g := RoleGrant{Tenant: t, Issuer: p.Issuer, Subject: p.Subject, DisplayName: p.DisplayName, Source: p.Source,
				Change: rolechange.Purpose(before, after), Before: nonNil(before), After: nonNil(after),
				RecordTime: p.At, KeepUntil: rolechange.KeptUntil(p.At)}
			if err := tx.QueryRow(ctx, `INSERT INTO ledger.role_grants
				(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
				g.Tenant, g.Issuer, g.Subject, g.DisplayName, g.Source, g.Change, g.Before, g.After, g.RecordTime, g.KeepUntil).
				Scan(&g.ID); err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger store: record the roles of %s %s: %w", p.Issuer, p.Subject, err)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// GrantFilter selects a tenant's role grants: an account's (Subject), recorded in [Start, End)
// (zero: unbounded).
type GrantFilter struct {
	Subject    string
	Start, End time.Time
}

// RoleGrants are the tenant's role grants matching f, newest first, after the one whose id is
// before (0: from the newest), at most limit.
func (s *Store) RoleGrants(ctx context.Context, tenant string, f GrantFilter, before int64, limit int) ([]RoleGrant, error) {
	var start, end *time.Time
	if !f.Start.IsZero() {
		start = &f.Start
	}
	if !f.End.IsZero() {
		end = &f.End
	}
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, id, issuer, subject, display_name, source, change, before, after,
			record_time, keep_until
		FROM ledger.role_grants
		WHERE tenant_id = $1 AND ($2 = '' OR subject = $2) AND ($3::timestamptz IS NULL OR record_time >= $3)
			AND ($4::timestamptz IS NULL OR record_time < $4) AND ($5 = 0 OR id < $5)
		ORDER BY id DESC LIMIT $6`, tenant, f.Subject, start, end, before, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list the role grants of %s: %w", tenant, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoleGrant, error) {
		var g RoleGrant
		err := row.Scan(&g.Tenant, &g.ID, &g.Issuer, &g.Subject, &g.DisplayName, &g.Source, &g.Change, &g.Before, &g.After,
			&g.RecordTime, &g.KeepUntil)
		return g, err
	})
}
