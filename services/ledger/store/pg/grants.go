package pg

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/names"
)

// OperatorTenant is the tenant_id under which grants on "*" (the platform operator) are kept:
// they touch no one tenant. Their log is (OperatorTenant, names.TenantLog).
const OperatorTenant = names.OperatorTenant

// RoleGrant is one account's roles in one tenant as they were and became (S-5): a row of
// ledger.role_grants, the index of the ROLE_CHANGE entry at LogIndex of the tenant's own log
// (names.TenantLog) that records it.
type RoleGrant struct {
	Tenant         string
	ID             int64
	Issuer, Source string
	// Account is the keyed hash of the issuer and subject (pkg/seal Tags) by which the index
	// finds the account; the entry's sealed values hold the subject and display name.
	Account []byte
	// Subject and DisplayName are those of a row written before rows were hashed (migration
	// 00010), until HashRoleGrants hashes it; empty otherwise.
	Subject, DisplayName string
	// Change is rolechange.Granted, Changed or Revoked.
	Change        string
	Before, After []string
	RecordTime    time.Time
	KeepUntil     time.Time
	// LogIndex is the entry's index; -1 for a record made before records were entries, until the
	// service carries it into the log (SetRoleGrantIndex).
	LogIndex int64
}

const grantCols = `tenant_id, id, issuer, account, coalesce(subject, ''), coalesce(display_name, ''), source, change, before,
	after, record_time, keep_until, coalesce(log_index, -1)`

func scanGrant(row pgx.CollectableRow) (RoleGrant, error) {
	var g RoleGrant
	err := row.Scan(&g.Tenant, &g.ID, &g.Issuer, &g.Account, &g.Subject, &g.DisplayName, &g.Source, &g.Change, &g.Before, &g.After,
		&g.RecordTime, &g.KeepUntil, &g.LogIndex)
	return g, err
}

// LockAccount takes the account's role-grant lock, a transaction-scoped advisory lock held
// until unlock (or until the connection dies with its process): the records of one account are
// compared and made one at a time across every replica (S-5: a record's "before" is the set the
// last one made). key names the account the same way in every replica, whatever data key it
// holds (RoleGrantLockKey). It holds a connection of the pool meanwhile.
func (s *Store) LockAccount(ctx context.Context, key int64) (unlock func(), err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger store: lock an account's role grants: %w", err)
	}
	unlock = func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		unlock()
		return nil, fmt.Errorf("ledger store: lock an account's role grants: %w", err)
	}
	return unlock, nil
}

// RoleGrantLockKey is the advisory lock key of issuer's subject (LockAccount): 64 bits of a
// SHA-256 of them, not a keyed hash, so that replicas holding different current data keys (during
// a key rotation's rollout) take the same lock. The key is never stored.
func RoleGrantLockKey(issuer, subject string) int64 {
	h := sha256.Sum256([]byte("ledger.role_grants lock\x00" + issuer + "\x00" + subject))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// LastRoleGrants are the last records of the account by tenant: the role sets it was last
// recorded with. accounts are its keyed hashes (any of them finds it), subject its subject, which
// finds the rows not yet hashed.
func (s *Store) LastRoleGrants(ctx context.Context, issuer, subject string, accounts [][]byte) (map[string]RoleGrant, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (tenant_id) `+grantCols+` FROM ledger.role_grants
		WHERE issuer = $1 AND (account = ANY($3) OR account IS NULL AND subject = $2) ORDER BY tenant_id, id DESC`,
		issuer, subject, accounts)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the roles of %s %s: %w", issuer, subject, err)
	}
	gs, err := pgx.CollectRows(rows, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the roles of %s %s: %w", issuer, subject, err)
	}
	out := make(map[string]RoleGrant, len(gs))
	for _, g := range gs {
		out[g.Tenant] = g
	}
	return out, nil
}

// InsertRoleGrant indexes g, whose entry is at g.LogIndex of its tenant's own log. A row for the
// same entry is kept as it is: another replica recorded the same change, which the entry's
// request_id made one entry.
func (s *Store) InsertRoleGrant(ctx context.Context, g RoleGrant) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO ledger.role_grants
		(tenant_id, issuer, account, source, change, before, after, record_time, keep_until, log_index)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, log_index) DO NOTHING`,
		g.Tenant, g.Issuer, g.Account, g.Source, g.Change, nonNil(g.Before), nonNil(g.After), g.RecordTime,
		g.KeepUntil, g.LogIndex); err != nil {
		return fmt.Errorf("ledger store: record a role set of %s in %s: %w", g.Issuer, g.Tenant, err)
	}
	return nil
}

// UnhashedRoleGrants are up to limit rows in a log that still hold their subject in clear,
// oldest first (HashRoleGrants).
func (s *Store) UnhashedRoleGrants(ctx context.Context, limit int) ([]RoleGrant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+grantCols+` FROM ledger.role_grants WHERE account IS NULL AND log_index IS NOT NULL
		ORDER BY tenant_id, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the role grants not yet hashed: %w", err)
	}
	return pgx.CollectRows(rows, scanGrant)
}

// HashRoleGrant replaces g's subject and display name by account, its keyed hash (the table's
// trigger allows this one change, once).
func (s *Store) HashRoleGrant(ctx context.Context, g RoleGrant, account []byte) error {
	if _, err := s.pool.Exec(ctx, `UPDATE ledger.role_grants SET account = $3, subject = NULL, display_name = NULL
		WHERE tenant_id = $1 AND id = $2 AND account IS NULL`, g.Tenant, g.ID, account); err != nil {
		return fmt.Errorf("ledger store: hash role grant %s/%d: %w", g.Tenant, g.ID, err)
	}
	return nil
}

// ExpireRoleGrants deletes the rows past keep_until (S-5's three years) of the account whose
// record is entry index of tenant's own log that no longer state its roles: a later row
// supersedes them, or they revoked all its roles. The account's rows are those with the erased
// row's keyed hash or any of accounts, its hashes under every data key (seal.Box Tags), so that
// rows written under an older key count too. The account's last set stays (its keyed hash and
// roles, no personal value), so that its next change is recorded against it. It returns how
// many it deleted.
func (s *Store) ExpireRoleGrants(ctx context.Context, tenant string, index int64, accounts [][]byte) (int64, error) {
	// now(), as the table's trigger judges keep_until: never a row the trigger would refuse.
	tag, err := s.pool.Exec(ctx, `DELETE FROM ledger.role_grants g USING ledger.role_grants r
		WHERE r.tenant_id = $1 AND r.log_index = $2
			AND g.tenant_id = $1 AND g.issuer = r.issuer AND (g.account = r.account OR g.account = ANY($3)) AND g.keep_until <= now()
			AND (g.after = '{}' OR EXISTS (SELECT 1 FROM ledger.role_grants n WHERE n.tenant_id = $1
				AND n.issuer = g.issuer AND (n.account = r.account OR n.account = ANY($3)) AND n.id > g.id))`, tenant, index, accounts)
	if err != nil {
		return 0, fmt.Errorf("ledger store: delete the expired role grants of %s: %w", names.Tenant(tenant), err)
	}
	return tag.RowsAffected(), nil
}

// UnloggedRoleGrants are up to limit records made before records were entries, oldest first.
func (s *Store) UnloggedRoleGrants(ctx context.Context, limit int) ([]RoleGrant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+grantCols+` FROM ledger.role_grants WHERE log_index IS NULL
		ORDER BY tenant_id, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the role grants not yet in a log: %w", err)
	}
	return pgx.CollectRows(rows, scanGrant)
}

// SetRoleGrantIndex names the entry that now records g (the table's trigger allows this one
// change, once).
func (s *Store) SetRoleGrantIndex(ctx context.Context, g RoleGrant, index int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE ledger.role_grants SET log_index = $3
		WHERE tenant_id = $1 AND id = $2 AND log_index IS NULL`, g.Tenant, g.ID, index); err != nil {
		return fmt.Errorf("ledger store: index role grant %s/%d at %d: %w", g.Tenant, g.ID, index, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ChangeKey is a ROLE_CHANGE entry's place in a tenant's list: newest first by occur_time, then
// by log and index.
type ChangeKey struct {
	OccurTime time.Time
	Unit      string
	Index     int64
}

// RoleChange is a ROLE_CHANGE entry of one of a tenant's logs (a unit's, or names.TenantLog).
type RoleChange struct {
	ChangeKey
	Row EntryRow
}

// RoleChanges are the ROLE_CHANGE entries of all the tenant's logs that occurred in [start, end)
// (zero: unbounded), newest first, after the one at after (nil: from the newest), at most limit.
func (s *Store) RoleChanges(ctx context.Context, tenant string, start, end time.Time, after *ChangeKey, limit int) ([]RoleChange, error) {
	var from, to, at *time.Time
	if !start.IsZero() {
		from = &start
	}
	if !end.IsZero() {
		to = &end
	}
	var unit string
	var index int64
	if after != nil {
		at, unit, index = &after.OccurTime, after.Unit, after.Index
	}
	rows, err := s.pool.Query(ctx, `SELECT e.unit_id, `+entryCols+entryFrom+`
		WHERE e.tenant_id = $1 AND e.kind = 'ROLE_CHANGE'
			AND ($2::timestamptz IS NULL OR e.occur_time >= $2) AND ($3::timestamptz IS NULL OR e.occur_time < $3)
			AND ($4::timestamptz IS NULL OR (e.occur_time, e.unit_id, e.idx) < ($4, $5::text COLLATE "C", $6))
		ORDER BY e.occur_time DESC, e.unit_id DESC, e.idx DESC LIMIT $7`, tenant, from, to, at, unit, index, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list the role changes of %s: %w", names.Tenant(tenant), err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoleChange, error) {
		var c RoleChange
		var err error
		c.Row, err = scanEntry(row, &c.Unit)
		c.OccurTime, c.Index = c.Row.OccurTime, c.Row.Index
		return c, err
	})
}
