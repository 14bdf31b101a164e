package retention_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// S-5: the daily sweep of the tenant's own log erases the account and name of each role change
// three years after it, and not a day before: a change 3 years + 1 day old is erased, one 3 years
// − 1 day old is not. The leaves and proofs stay (the log verifies as before), the list shows the
// erased change's roles without its person, and the index row it no longer needs (past its
// keep_until, superseded by the account's later set) is deleted, while the account's last set
// stays and its next change records against it.
func TestRoleChangesErasedAfterThreeYears_S_5(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	now := time.Now().UTC().Truncate(time.Second)
	clock.Pin(t, now)
	const issuer, account, name = auth.DevIssuer, "kim.minji", "김민지"

	// Two changes made when role grants were rows alone, carried into the tenant's log by a
	// replica that starts (as at an upgrade): entries 0 and 1, at their own times.
	for _, r := range []struct {
		at            time.Time
		before, after []string
	}{
		{now.AddDate(-3, 0, -1), []string{}, []string{"handler " + libraryUnit}},
		{now.AddDate(-3, 0, 1), []string{"handler " + libraryUnit}, []string{"auditor " + libraryUnit}},
	} {
		_, err := s.DB().Exec(t.Context(), `INSERT INTO ledger.role_grants
			(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
			VALUES ('jeongeup', $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			issuer, account, name, rolechange.SourceToken, rolechange.Changed, r.before, r.after, r.at, rolechange.KeptUntil(r.at))
		require.NoError(t, err)
	}
	box, err := s.Box()
	require.NoError(t, err)
	_, err = ledger.Open(t.Context(), pg.New(s.DB(), box), box, nil)
	require.NoError(t, err)
	// Today's change, entry 2.
	grants := ledgerv1.NewRoleGrantServiceClient(s.Conn)
	rec, err := grants.RecordRoleGrants(s.As(auth.RoleService, auth.ScopeAll), &ledgerv1.RecordRoleGrantsRequest{Issuer: issuer,
		Subject: account, DisplayName: name, Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: "cpo", Scope: libraryUnit}}})
	require.NoError(t, err)
	require.Len(t, rec.GetRecorded(), 1)
	require.Equal(t, "tenants/jeongeup/units/-/ledger/entries/2", rec.GetRecorded()[0].GetName())

	const tenantLog = "tenants/jeongeup/units/-"
	cpo := s.As(auth.RoleCPO, "tenants/jeongeup")
	leaves := func() (out [][]byte) {
		for i := range 3 {
			l, err := s.ledger().GetLeaf(cpo, &ledgerv1.GetLeafRequest{Name: tenantLog + "/ledger/entries/" + fmt.Sprint(i)})
			require.NoError(t, err)
			out = append(out, l.GetData())
		}
		return out
	}
	before := leaves()

	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "-"}))

	list, err := grants.ListRoleGrants(cpo, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/jeongeup"})
	require.NoError(t, err)
	byName := map[string]*ledgerv1.RoleGrant{} // the tokens' records (the officers' are their units')
	for _, g := range list.GetRoleGrants() {
		if strings.HasPrefix(g.GetName(), tenantLog+"/") {
			byName[g.GetName()] = g
		}
	}
	require.Len(t, byName, 3)
	erased := byName[tenantLog+"/ledger/entries/0"]
	require.Empty(t, erased.GetSubject()+erased.GetDisplayName(), "3 years + 1 day: erased")
	require.Equal(t, []string{"handler " + libraryUnit}, erased.GetAfter(), "its roles stay")
	for _, i := range []string{"1", "2"} {
		require.Equal(t, account, byName[tenantLog+"/ledger/entries/"+i].GetSubject(), "entry %s: not yet three years", i)
		require.Equal(t, name, byName[tenantLog+"/ledger/entries/"+i].GetDisplayName())
	}
	e, err := s.ledger().GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: tenantLog + "/ledger/entries/0"})
	require.NoError(t, err)
	require.True(t, e.GetRedacted())
	require.Equal(t, before, leaves(), "the leaves stay as they were")
	rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.URL, Token: s.Token(auth.RoleCPO, "tenants/jeongeup")}, tenantLog,
		&verify.State{}, verify.Policy{Full: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	// The index: the row of entry 0 (past keep_until, superseded) is gone; entry 1's (kept
	// until tomorrow) and the account's last set stay, hashed.
	rows, err := s.DB().Query(t.Context(), `SELECT log_index FROM ledger.role_grants WHERE tenant_id = 'jeongeup'
		AND subject IS NULL AND display_name IS NULL ORDER BY log_index`)
	require.NoError(t, err)
	var idx []int64
	for rows.Next() {
		var i int64
		require.NoError(t, rows.Scan(&i))
		idx = append(idx, i)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int64{1, 2}, idx)

	// Run again: nothing more is due, nothing more erased.
	redactions := func() (n int) {
		require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*) FROM ledger.entries
			WHERE tenant_id = 'jeongeup' AND unit_id = '-' AND kind = 'REDACTION'`).Scan(&n))
		return n
	}
	require.Equal(t, 1, redactions())
	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "-"}))
	require.Equal(t, 1, redactions())
}

// S-5, S-8-1: a role change whose erasure keeps failing does not keep the tenant log's access
// records (the reads of that log) from being destroyed: the sweep of the log runs both passes and
// fails with the role change's error.
func TestRoleChangeFailureLeavesTheAccessSweep_S_5_S_8_1(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	now := time.Now().UTC()
	for _, at := range []time.Time{now.AddDate(-3, 0, -2), now.AddDate(-3, 0, -1)} {
		_, err := s.DB().Exec(t.Context(), `INSERT INTO ledger.role_grants
			(tenant_id, issuer, subject, display_name, source, change, before, after, record_time, keep_until)
			VALUES ('jeongeup', $1, 'kim.minji', '김민지', $2, $3, '{}', $4, $5, $6)`,
			auth.DevIssuer, rolechange.SourceToken, rolechange.Granted, []string{"handler " + libraryUnit}, at, rolechange.KeptUntil(at))
		require.NoError(t, err)
	}
	box, err := s.Box()
	require.NoError(t, err)
	_, err = ledger.Open(t.Context(), pg.New(s.DB(), box), box, nil) // entries 0 and 1 of the tenant's log
	require.NoError(t, err)
	// Erasing entry 0 fails each time: its REDACTION cannot be appended.
	_, err = s.DB().Exec(t.Context(), `CREATE FUNCTION ledger.refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE EXCEPTION 'refused'; END$$;
		CREATE TRIGGER refuse BEFORE INSERT ON ledger.entries FOR EACH ROW
			WHEN (NEW.tenant_id = 'jeongeup' AND NEW.unit_id = '-' AND NEW.kind = 'REDACTION' AND NEW.follows = 0)
			EXECUTE FUNCTION ledger.refuse()`)
	require.NoError(t, err)
	read, err := s.ledger().AppendEntry(s.As(auth.RoleService, auth.ScopeAll), &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/-",
		Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: timestamppb.New(now.AddDate(-5, 0, 0)),
			FileName: "pipa", Actor: "cpo-lee", RemoteAddr: "198.51.100.7", Subject: "tenants/jeongeup/role-grants", Action: "조회"}})
	require.NoError(t, err)

	retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "-"})
	require.Eventually(t, func() bool {
		var redacted bool
		err := s.DB().QueryRow(t.Context(), `SELECT redacted FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = '-'
			AND idx = $1`, read.GetIndex()).Scan(&redacted)
		return err == nil && redacted
	}, 20*time.Second, 50*time.Millisecond, "the access record past its period is destroyed")
}
