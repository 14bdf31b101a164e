package ledger_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// S-5, S-8-3: the roles a token presents are recorded as ROLE_CHANGE entries of the tenant's own
// log (tenants/{t}/units/-), which a tenant-wide reader reads and an inspector verifies like a
// unit's: an operator who rewrites a record's leaf in PostgreSQL is named by `verify`, and one who
// rewrites its index row has the account's next record refused (DataLoss) rather than made
// against roles it was never recorded with.
func TestRoleGrants_S_5_S_8_3_TenantLog(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	record := func(grants ...*ledgerv1.TokenGrant) (*ledgerv1.RecordRoleGrantsResponse, error) {
		return s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: "kim",
			DisplayName: "김민지", Source: rolechange.SourceToken, Grants: grants})
	}
	handler, cpoJ := &ledgerv1.TokenGrant{Role: "handler", Scope: iksanLog}, &ledgerv1.TokenGrant{Role: "cpo", Scope: "tenants/jeongeup"}
	got, err := record(handler, cpoJ)
	require.NoError(t, err)
	require.Len(t, got.GetRecorded(), 2, "one record per tenant")
	g := got.GetRecorded()[0]
	require.Equal(t, "tenants/iksan/units/-/ledger/entries/0", g.GetName())
	require.Equal(t, []string{"handler " + iksanLog}, g.GetAfter())
	require.Equal(t, auth.DevIssuer, g.GetIssuer())
	require.Equal(t, auth.DevIssuer, g.GetChangedBy())
	require.Equal(t, "김민지", g.GetDisplayName())
	require.Empty(t, g.GetUnit(), "a token's roles are the tenant's, not a unit's")
	require.Equal(t, "tenants/jeongeup/units/-/ledger/entries/0", got.GetRecorded()[1].GetName())
	again, err := record(cpoJ, handler)
	require.NoError(t, err)
	require.Empty(t, again.GetRecorded(), "the same set records nothing")

	// The record is the entry, read with a role on the whole tenant, not with a unit's.
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	e, err := s.client.GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: g.GetName()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, e.GetKind())
	require.Equal(t, "kim", e.GetActor())
	_, err = s.client.GetEntry(as(t, s, "song", auth.RoleCPO, iksanLog), &ledgerv1.GetEntryRequest{Name: g.GetName()})
	requireStatus(t, err, codes.PermissionDenied)
	_, err = s.client.GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: "tenants/jeongeup/units/-/ledger/entries/0"})
	requireStatus(t, err, codes.PermissionDenied)

	// A change in iksan and a revocation in jeongeup; the list reads them from the leaves.
	got, err = record(&ledgerv1.TokenGrant{Role: "auditor", Scope: iksanLog})
	require.NoError(t, err)
	require.Len(t, got.GetRecorded(), 2)
	list, err := s.grants.ListRoleGrants(cpo, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/iksan"})
	require.NoError(t, err)
	require.Len(t, list.GetRoleGrants(), 2)
	require.Equal(t, rolechange.Changed, list.GetRoleGrants()[0].GetChange(), "newest first")
	require.Equal(t, []string{"handler " + iksanLog}, list.GetRoleGrants()[0].GetBefore())
	require.Equal(t, []string{"auditor " + iksanLog}, list.GetRoleGrants()[0].GetAfter())

	// S-8-3: the tenant's log verifies from the outside; a record rewritten in the database shows.
	inspector := &verify.Client{BaseURL: s.url, Token: s.tokenAs(t, "inspector", auth.RoleAuditor, "tenants/iksan")}
	rep, err := verify.Run(t.Context(), inspector, "tenants/iksan/units/-", &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, int64(2), rep.TreeSize)
	tag, err := s.pool.Exec(t.Context(), `UPDATE ledger.entries SET leaf = replace(convert_from(leaf, 'UTF8'), 'auditor ', 'cpo ')::bytea
		WHERE tenant_id = 'iksan' AND unit_id = '-' AND idx = 1`)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
	rep, err = verify.Run(t.Context(), inspector, "tenants/iksan/units/-", &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Equal(t, int64(1), rep.FirstBad, "%+v", rep)

	// S-8-3: an index row that no longer says what its entry says is refused, and nothing is
	// recorded against it.
	_, err = s.pool.Exec(t.Context(), `ALTER TABLE ledger.role_grants DISABLE TRIGGER role_grants_kept`)
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.role_grants SET after = '{"cpo tenants/jeongeup"}'
		WHERE tenant_id = 'jeongeup' AND log_index = 1`)
	require.NoError(t, err)
	_, err = record(cpoJ)
	info, _ := requireStatus(t, err, codes.DataLoss)
	require.Equal(t, "S-8-3", info["rule"])
	cp, err := s.client.GetCheckpoint(as(t, s, "cpo", auth.RoleCPO, "tenants/jeongeup"), &ledgerv1.GetCheckpointRequest{Parent: "tenants/jeongeup/units/-"})
	require.NoError(t, err)
	require.Equal(t, int64(2), cp.GetTreeSize(), "nothing appended")
}

// S-5: role grants recorded before they were entries (rows of ledger.role_grants alone) are
// carried into their tenant's own log when the ledger starts, as they were, once however many
// times it starts, and then listed like the others.
func TestCarryRoleGrants_S_5(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	at := time.Now().AddDate(-1, 0, 0).UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(t.Context(), `INSERT INTO ledger.role_grants
		(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
		VALUES ('iksan', $1, 'lee', '이영희', $2, $3, '{}', $4, $5, $6)`,
		auth.DevIssuer, rolechange.SourceToken, rolechange.Granted, []string{"handler " + iksanLog}, at, rolechange.KeptUntil(at))
	require.NoError(t, err)
	require.NoError(t, s.restart(t))
	require.NoError(t, s.restart(t))

	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	list, err := s.grants.ListRoleGrants(cpo, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/iksan", Subject: "lee"})
	require.NoError(t, err)
	require.Len(t, list.GetRoleGrants(), 1)
	g := list.GetRoleGrants()[0]
	require.Equal(t, "tenants/iksan/units/-/ledger/entries/0", g.GetName())
	require.Equal(t, at, g.GetRecordTime().AsTime())
	require.Equal(t, "이영희", g.GetDisplayName())
	require.Equal(t, []string{"handler " + iksanLog}, g.GetAfter())
	// S-5, migration 00010: the row keeps only what the index needs, the account's keyed hash in
	// place of its subject and name, which the entry's sealed values hold.
	var idx int64
	var subject, display *string
	var account []byte
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT log_index, subject, display_name, account FROM ledger.role_grants
		WHERE tenant_id = 'iksan'`).Scan(&idx, &subject, &display, &account))
	require.Zero(t, idx)
	require.Nil(t, subject)
	require.Nil(t, display)
	require.Len(t, account, 32)
	require.Equal(t, s.box.Tags("ledger.role_grants account", []byte(auth.DevIssuer+"\x00lee"))[0], account)
	var clear int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM ledger.role_grants
		WHERE subject IS NOT NULL OR display_name IS NOT NULL`).Scan(&clear))
	require.Zero(t, clear)
	cp, err := s.client.GetCheckpoint(cpo, &ledgerv1.GetCheckpointRequest{Parent: "tenants/iksan/units/-"})
	require.NoError(t, err)
	require.Equal(t, int64(1), cp.GetTreeSize(), "carried once")

	// The carried row is the account's last set: presenting it again records nothing.
	got, err := s.grants.RecordRoleGrants(as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll), &ledgerv1.RecordRoleGrantsRequest{
		Issuer: auth.DevIssuer, Subject: "lee", Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: "handler", Scope: iksanLog}}})
	require.NoError(t, err)
	require.Empty(t, got.GetRecorded())
}

// S-5: when the expired index rows of a role change's account cannot be deleted, its erasure fails
// (Unavailable) and erases nothing, so that the retry (or the sweep, which lists only unredacted
// entries) comes back to it with the account's hashes under every data key, and deletes them.
func TestRoleGrants_S_5_ExpiryRetried(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	insertExpiredGrants(t, s)
	require.NoError(t, s.restart(t)) // carried: entries 0 and 1 of the tenant's log
	_, err := s.pool.Exec(t.Context(), `CREATE FUNCTION ledger.refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE EXCEPTION 'refused'; END$$;
		CREATE TRIGGER refuse BEFORE DELETE ON ledger.role_grants FOR EACH ROW EXECUTE FUNCTION ledger.refuse()`)
	require.NoError(t, err)
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	req := &ledgerv1.RedactEntryRequest{Name: "tenants/iksan/units/-/ledger/entries/0", Reason: "보유기간 경과", RequestId: "sweep-0"}
	_, err = s.client.RedactEntry(svc, req)
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	rows := func() (n int) {
		require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM ledger.role_grants WHERE tenant_id = 'iksan'`).Scan(&n))
		return n
	}
	require.Equal(t, 2, rows())
	var redacted bool
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT redacted FROM ledger.entries WHERE tenant_id = 'iksan' AND unit_id = '-' AND idx = 0`).Scan(&redacted))
	require.False(t, redacted, "nothing erased")
	_, err = s.pool.Exec(t.Context(), `DROP TRIGGER refuse ON ledger.role_grants`)
	require.NoError(t, err)
	e, err := s.client.RedactEntry(svc, req)
	require.NoError(t, err)
	require.Equal(t, int64(2), e.GetIndex(), "the REDACTION, appended by the retry only")
	require.Equal(t, 1, rows(), "entry 0's row, superseded and past its three years, is deleted")
}

// S-5: the expired rows of an account are found under each of its keyed hashes: a row hashed
// under the data key before the current one still counts as superseded by one under the current
// key, and goes when its record is erased.
func TestRoleGrants_S_5_ExpiryAcrossDataKeys(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	insertExpiredGrants(t, s)
	require.NoError(t, s.restart(t)) // carried and hashed under "test": entries 0 and 1
	next := make([]byte, seal.KeySize)
	_, _ = rand.Read(next)
	box, err := seal.New(map[string][]byte{"test": s.dataKey, "next": next}, "next")
	require.NoError(t, err)
	// Entry 1's row as the replica of the new key writes it.
	_, err = s.pool.Exec(t.Context(), `ALTER TABLE ledger.role_grants DISABLE TRIGGER role_grants_kept`)
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.role_grants SET account = $1 WHERE tenant_id = 'iksan' AND log_index = 1`,
		box.Tags("ledger.role_grants account", []byte(auth.DevIssuer+"\x00lee"))[0])
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `ALTER TABLE ledger.role_grants ENABLE TRIGGER role_grants_kept`)
	require.NoError(t, err)

	srv, err := ledger.Open(t.Context(), pg.New(s.pool, box), box, nil)
	require.NoError(t, err)
	svc := auth.NewContext(t.Context(), &auth.Principal{Subject: "pipa-service", Grants: []auth.Grant{{Role: auth.RoleService, Scope: auth.ScopeAll}}})
	_, err = srv.RedactEntry(svc, &ledgerv1.RedactEntryRequest{Name: "tenants/iksan/units/-/ledger/entries/0", Reason: "보유기간 경과"})
	require.NoError(t, err)
	var left []int64
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT array_agg(log_index) FROM ledger.role_grants WHERE tenant_id = 'iksan'`).Scan(&left))
	require.Equal(t, []int64{1}, left, "entry 0's row, superseded under the other key, is deleted")
}

// S-5: a process that dies after a record's entry and before its index row loses nothing and
// doubles nothing: the same set presented again replays the entry (its request_id names the
// account, the tenant, the previous record and the set) and writes the row.
func TestRoleGrants_S_5_EntryWithoutRow(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	record := func(role string) *ledgerv1.RecordRoleGrantsResponse {
		got, err := s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: "kim",
			Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: role, Scope: iksanLog}}})
		require.NoError(t, err)
		return got
	}
	record("handler")
	first := record("auditor").GetRecorded()
	require.Len(t, first, 1)
	// The row of the change is lost, as if the process had died before writing it.
	_, err := s.pool.Exec(t.Context(), `ALTER TABLE ledger.role_grants DISABLE TRIGGER role_grants_kept`)
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `DELETE FROM ledger.role_grants WHERE log_index = 1`)
	require.NoError(t, err)

	again := record("auditor").GetRecorded()
	require.Len(t, again, 1)
	require.Equal(t, first[0].GetName(), again[0].GetName(), "the entry replayed, not appended again")
	require.Equal(t, first[0].GetRecordTime().AsTime(), again[0].GetRecordTime().AsTime())
	require.Empty(t, record("auditor").GetRecorded(), "the row is back")
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	cp, err := s.client.GetCheckpoint(cpo, &ledgerv1.GetCheckpointRequest{Parent: "tenants/iksan/units/-"})
	require.NoError(t, err)
	require.Equal(t, int64(2), cp.GetTreeSize())
}

// S-5: a role change's leaf commits to the staff account (actor) and its holder's name
// (subject), whose values are kept sealed beside it: neither is in the leaf, read raw or as a
// tile, while the list and the export show them and the log verifies. Three years after the
// change the tenant's CPO may erase them (RedactEntry on the tenant's own log); the list and the
// export then show the change without them, and the account's next record goes on.
func TestRoleGrants_S_5_PersonalFieldsCommitted(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	const account, name = "kim.minji@iksan.go.kr", "김민지"
	at := time.Now().AddDate(-4, 0, 0).UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(t.Context(), `INSERT INTO ledger.role_grants
		(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
		VALUES ('iksan', $1, $2, $3, $4, $5, '{}', $6, $7, $8)`,
		auth.DevIssuer, account, name, rolechange.SourceToken, rolechange.Granted, []string{"handler " + iksanLog}, at, rolechange.KeptUntil(at))
	require.NoError(t, err)
	require.NoError(t, s.restart(t)) // carried: entry 0, four years old
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	_, err = s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: account,
		DisplayName: name, Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: "auditor", Scope: iksanLog}}})
	require.NoError(t, err) // entry 1, today

	cpoTok := s.tokenAs(t, "cpo", auth.RoleCPO, "tenants/iksan")
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	for i := range int64(2) {
		l, err := s.client.GetLeaf(cpo, &ledgerv1.GetLeafRequest{Name: fmt.Sprintf("tenants/iksan/units/-/ledger/entries/%d", i)})
		require.NoError(t, err)
		require.NotContains(t, string(l.GetData()), account)
		require.NotContains(t, string(l.GetData()), name)
		require.Contains(t, string(l.GetData()), "\nactor-commitment: ")
		require.Contains(t, string(l.GetData()), "\nsubject-commitment: ")
	}
	code, _, bundle := s.do(t, http.MethodGet, "/v1/tenants/iksan/units/-/ledger/tiles/tile/entries/000.p/2", "", cpoTok)
	require.Equal(t, http.StatusOK, code, bundle)
	require.NotContains(t, bundle, account)
	require.NotContains(t, bundle, name)

	mux := http.NewServeMux()
	mux.Handle(ledger.GrantsExportPattern, ledger.GrantsExport(s.grants))
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)
	export := func() string {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, gw.URL+"/v1/tenants/iksan/role-grants:export", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+cpoTok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		return string(b)
	}
	list := func() []*ledgerv1.RoleGrant {
		l, err := s.grants.ListRoleGrants(cpo, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/iksan"})
		require.NoError(t, err)
		require.Len(t, l.GetRoleGrants(), 2)
		return l.GetRoleGrants()
	}
	for _, g := range list() {
		require.Equal(t, account, g.GetSubject())
		require.Equal(t, name, g.GetDisplayName())
	}
	require.Equal(t, 2, strings.Count(export(), account))
	// A value that does not open: the history and its export go on past it, the record listed
	// without its person (S-5).
	var sealed []byte
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT sealed FROM ledger.entries WHERE tenant_id = 'iksan' AND unit_id = '-'
		AND idx = 1`).Scan(&sealed))
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.entries SET sealed = overlay(sealed placing '\x00'::bytea from 20)
		WHERE tenant_id = 'iksan' AND unit_id = '-' AND idx = 1`)
	require.NoError(t, err)
	got := list()
	require.Empty(t, got[0].GetSubject()+got[0].GetDisplayName(), "entry 1, unreadable")
	require.Equal(t, []string{"handler " + iksanLog}, got[0].GetBefore(), "its roles stay")
	require.Equal(t, account, got[1].GetSubject())
	require.Equal(t, 1, strings.Count(export(), account))
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.entries SET sealed = $1 WHERE tenant_id = 'iksan' AND unit_id = '-' AND idx = 1`, sealed)
	require.NoError(t, err)
	inspector := &verify.Client{BaseURL: s.url, Token: cpoTok}
	rep, err := verify.Run(t.Context(), inspector, "tenants/iksan/units/-", &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	// S-5: not before three years, not by a unit's CPO; then by the tenant's CPO.
	redact := func(ctx context.Context, i int) error {
		_, err := s.client.RedactEntry(ctx, &ledgerv1.RedactEntryRequest{Name: fmt.Sprintf("tenants/iksan/units/-/ledger/entries/%d", i),
			Reason: "보유기간 경과 (권한 기록, S-5)"})
		return err
	}
	info, _ := requireStatus(t, redact(cpo, 1), codes.FailedPrecondition)
	require.Equal(t, "S-5", info["rule"])
	requireStatus(t, redact(as(t, s, "unit-cpo", auth.RoleCPO, iksanLog), 0), codes.PermissionDenied)
	// The index row of the newer change lost, so that the erased one is the account's last set
	// (below); an expired row that states the account's roles is kept when its entry is erased.
	_, err = s.pool.Exec(t.Context(), `ALTER TABLE ledger.role_grants DISABLE TRIGGER role_grants_kept`)
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `DELETE FROM ledger.role_grants WHERE log_index = 1`)
	require.NoError(t, err)
	require.NoError(t, redact(cpo, 0))

	got = list()
	require.Equal(t, account, got[0].GetSubject(), "the newer change keeps its account")
	require.Empty(t, got[1].GetSubject(), "erased")
	require.Empty(t, got[1].GetDisplayName(), "erased")
	require.Equal(t, []string{"handler " + iksanLog}, got[1].GetAfter(), "the roles stay")
	require.Equal(t, 1, strings.Count(export(), account))
	rep, err = verify.Run(t.Context(), inspector, "tenants/iksan/units/-", &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	// The erased record is still the account's previous set to the index: the next one records.
	next, err := s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: account,
		DisplayName: name, Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: "cpo", Scope: iksanLog}}})
	require.NoError(t, err, "an erased entry does not lock the account out")
	require.Len(t, next.GetRecorded(), 1)
	require.Equal(t, []string{"handler " + iksanLog}, next.GetRecorded()[0].GetBefore())
}

// S-5: two replicas recording different role sets of one account at the same instant record
// them one after the other: each record's "before" is the set the record before it left, as
// the account's lock (across processes, in PostgreSQL) makes them compare and record in turn.
// The index rows hold the account's keyed hash, never its subject or name.
func TestRoleGrants_S_5_ReplicasRecordInTurn(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	// Two replicas, same database, midway through a data-key rotation's rollout: one seals and
	// tags under the old key, the other under the new one (each holds both). Their lock is the same.
	next := make([]byte, seal.KeySize)
	_, _ = rand.Read(next)
	keys := map[string][]byte{"test": s.dataKey, "next": next}
	var servers []*ledger.Server
	for _, current := range []string{"test", "next"} {
		box, err := seal.New(keys, current)
		require.NoError(t, err)
		srv, err := ledger.Open(t.Context(), pg.New(s.pool, box), box, nil)
		require.NoError(t, err)
		servers = append(servers, srv)
	}
	var replicas []func(context.Context, *ledgerv1.RecordRoleGrantsRequest) (*ledgerv1.RecordRoleGrantsResponse, error)
	for _, srv := range servers {
		replicas = append(replicas, func(ctx context.Context, req *ledgerv1.RecordRoleGrantsRequest) (*ledgerv1.RecordRoleGrantsResponse, error) {
			return srv.RoleGrants().RecordRoleGrants(auth.NewContext(ctx, &auth.Principal{Subject: "pipa-service",
				Grants: []auth.Grant{{Role: auth.RoleService, Scope: auth.ScopeAll}}}), req)
		})
	}
	const rounds = 8
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, record := range replicas {
			role := []string{"handler", "auditor"}[(i+round)%2]
			wg.Go(func() {
				<-start
				_, err := record(t.Context(), &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: "kim",
					DisplayName: "김민지", Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: role, Scope: iksanLog}}})
				assert.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
	}
	cpo := auth.NewContext(t.Context(), &auth.Principal{Subject: "cpo", Grants: []auth.Grant{{Role: auth.RoleCPO, Scope: "tenants/iksan"}}})
	list, err := servers[1].ListEntries(cpo, &ledgerv1.ListEntriesRequest{Parent: "tenants/iksan/units/-", PageSize: 1000,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE})
	require.NoError(t, err)
	require.Empty(t, list.GetUnreadable())
	es := list.GetEntries()
	require.GreaterOrEqual(t, len(es), rounds, "each round changes the set at least once")
	last := ""
	for _, e := range es {
		c := rolechange.FromEntry(e)
		require.Equal(t, last, strings.Join(c.Before.Normal(), ", "), "entry %d: its before is the last record's after", e.GetIndex())
		last = strings.Join(c.After.Normal(), ", ")
	}
	var rows, clear int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE subject IS NOT NULL OR display_name IS NOT NULL)
		FROM ledger.role_grants WHERE tenant_id = 'iksan'`).Scan(&rows, &clear))
	require.Equal(t, len(es), rows, "one index row per record")
	require.Zero(t, clear, "the rows hold the account's keyed hash alone")
}

// insertExpiredGrants writes two index rows of one account (lee), both past S-5's three years.
func insertExpiredGrants(t *testing.T, s *tilesStack) {
	t.Helper()
	for _, at := range []time.Time{time.Now().AddDate(-3, 0, -2), time.Now().AddDate(-3, 0, -1)} {
		_, err := s.pool.Exec(t.Context(), `INSERT INTO ledger.role_grants
			(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
			VALUES ('iksan', $1, 'lee', '이영희', $2, $3, '{}', $4, $5, $6)`,
			auth.DevIssuer, rolechange.SourceToken, rolechange.Granted, []string{"handler " + iksanLog}, at, rolechange.KeptUntil(at))
		require.NoError(t, err)
	}
}
