package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// accessEntries pages through the ACCESS entries of log, read as ctx's caller; nil if a read
// fails (the conditions of require.Eventually must not stop the test from their goroutine).
func accessEntries(cl ledgerv1.LedgerServiceClient, ctx context.Context, log string) []*ledgerv1.Entry {
	var out []*ledgerv1.Entry
	req := &ledgerv1.ListEntriesRequest{Parent: log, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, PageSize: 500}
	for {
		resp, err := cl.ListEntries(ctx, req)
		if err != nil {
			return nil
		}
		out = append(out, resp.GetEntries()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func countBy(es []*ledgerv1.Entry, actor, action string) (n int) {
	for _, e := range es {
		if e.GetActor() == actor && e.GetAction() == action {
			n++
		}
	}
	return n
}

// Every read of personal data becomes an ACCESS entry of the unit's ledger (S-2-3: who, when,
// from where, whose data, what action), appended in the background: reads of officers in the
// registry, reads of the ledger itself (without recursion on the appends), through gRPC and the
// REST gateway, and a burst of reads with no record lost or doubled.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	// The gateway, on loopback, is a trusted proxy (PIPA_TRUSTED_PROXIES).
	s := startStack(t, withSettings(t, &config{trusted: "127.0.0.0/8,::1/128", accessLog: true}))
	s.Load("jeongeup-library.yaml")
	cl := s.ledger()
	cpo := s.As(auth.RoleCPO, libraryLog)
	listOfficers := registryv1.RegistryService_ListOfficers_FullMethodName
	listEntries := ledgerv1.LedgerService_ListEntries_FullMethodName

	before := time.Now()
	officers, err := s.Registry.ListOfficers(s.As(auth.RoleAuditor, libraryLog), &registryv1.ListOfficersRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.NotEmpty(t, officers.GetOfficers())

	var got *ledgerv1.Entry
	require.Eventually(t, func() bool {
		for _, e := range accessEntries(cl, cpo, libraryLog) {
			if e.GetActor() == "test-auditor" && e.GetAction() == listOfficers {
				got = e
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, libraryLog+"/officers", got.GetSubject(), "whose data: a resource name, not a person's")
	require.Equal(t, "127.0.0.1", got.GetRemoteAddr())
	require.False(t, got.GetOccurTime().AsTime().Before(before.Add(-time.Second)))
	for _, o := range officers.GetOfficers() {
		if o.GetDisplayName() != "" {
			require.NotContains(t, got.GetSubject(), o.GetDisplayName())
		}
	}

	// Reading the ledger is recorded too; the recorder's own appends (service role) are not.
	var all []*ledgerv1.Entry
	require.Eventually(t, func() bool {
		all = accessEntries(cl, cpo, libraryLog)
		return countBy(all, "test-cpo", listEntries) > 0
	}, 15*time.Second, 20*time.Millisecond)
	for _, e := range all {
		require.NotEqual(t, ledgerv1.LedgerService_AppendEntry_FullMethodName, e.GetAction(), "appends of ACCESS entries are not themselves recorded")
		require.NotEqual(t, "pipa-service", e.GetActor(), "the service role's calls are not recorded")
		if e.GetAction() == listEntries {
			// S-2-3: the entries the list returned, not only the list.
			require.Regexp(t, "^"+libraryLog+"/ledger/entries/[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", e.GetSubject())
		}
	}

	// Through the REST gateway the client is the first X-Forwarded-For hop that is not a trusted
	// proxy (the gateway itself, on loopback).
	restTok, err := auth.Mint(s.Key, auth.Principal{Subject: "rest-auditor", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: libraryLog}}}, time.Hour)
	require.NoError(t, err)
	r := s.Get("/v1/"+libraryLog+"/officers", "Authorization", "Bearer "+restTok, "X-Forwarded-For", "203.0.113.7")
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Eventually(t, func() bool {
		for _, e := range accessEntries(cl, cpo, libraryLog) {
			if e.GetActor() == "rest-auditor" {
				return e.GetRemoteAddr() == "203.0.113.7" && e.GetAction() == listOfficers
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond)

	// A burst: every read succeeds, and the log ends with exactly one entry per read.
	burstTok, err := auth.Mint(s.Key, auth.Principal{Subject: "burst-auditor", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: libraryLog}}}, time.Hour)
	require.NoError(t, err)
	burst := unitauth.WithToken(context.Background(), burstTok)
	const reads = 200
	var wg sync.WaitGroup
	errs := make(chan error, reads)
	for range reads {
		wg.Go(func() {
			_, err := s.Registry.ListOfficers(burst, &registryv1.ListOfficersRequest{Parent: libraryLog})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		all = accessEntries(cl, cpo, libraryLog)
		return countBy(all, "burst-auditor", listOfficers) >= reads
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, reads, countBy(all, "burst-auditor", listOfficers), "no record lost, none doubled")
}

// Only pipa's own calls (the service role on "*") escape the access log: a principal holding the
// service role on one tenant is recorded like staff (S-2-3).
func TestAccessLogRecordsServiceGrantsOnATenant(t *testing.T) {
	t.Parallel()
	s := startStack(t, withSettings(t, &config{accessLog: true}))
	s.Load("jeongeup-library.yaml")
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "tenant-service", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	_, err = s.Registry.ListOfficers(unitauth.WithToken(context.Background(), tok), &registryv1.ListOfficersRequest{Parent: libraryLog})
	require.NoError(t, err)
	cl, cpo := s.ledger(), s.As(auth.RoleCPO, libraryLog)
	require.Eventually(t, func() bool {
		return countBy(accessEntries(cl, cpo, libraryLog), "tenant-service", registryv1.RegistryService_ListOfficers_FullMethodName) == 1
	}, 15*time.Second, 20*time.Millisecond)
}

// S-2-3: reads of a tenant's own log (tenants/{t}/units/-, its staff's role grants) are staff
// reads like any other: an entry read, a page listed and the role-grant history read each leave
// an ACCESS entry, in that log, naming what was read. "-" is still no unit elsewhere.
func TestAccessLogRecordsReadsOfTheTenantLog_S_2_3(t *testing.T) {
	t.Parallel()
	s := startStack(t, withSettings(t, &config{accessLog: true}), withRoleGrants)
	s.Load("jeongeup-library.yaml")
	const tenantLog = "tenants/jeongeup/units/-"
	// A token with a role in the tenant: its first use records a grant, entry 0 of the log.
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "kim", Grants: []auth.Grant{{Role: auth.RoleHandler, Scope: libraryLog}}}, time.Hour)
	require.NoError(t, err)
	code, body := getAs(t, s.URL, "/v1/"+libraryLog+"/sites", tok)
	require.Equal(t, http.StatusOK, code, body)

	cl := s.ledger()
	reader, err := auth.Mint(s.Key, auth.Principal{Subject: "tenant-auditor", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	ctx := unitauth.WithToken(context.Background(), reader)
	_, err = cl.GetEntry(ctx, &ledgerv1.GetEntryRequest{Name: tenantLog + "/ledger/entries/0"})
	require.NoError(t, err)
	_, err = cl.ListEntries(ctx, &ledgerv1.ListEntriesRequest{Parent: tenantLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE})
	require.NoError(t, err)
	_, err = ledgerv1.NewRoleGrantServiceClient(s.Conn).ListRoleGrants(ctx, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/jeongeup"})
	require.NoError(t, err)

	cpo := s.As(auth.RoleCPO, "tenants/jeongeup")
	// The reader's own token is recorded too (entry 1): the page lists 0-1.
	want := map[string]string{
		ledgerv1.LedgerService_GetEntry_FullMethodName:          tenantLog + "/ledger/entries/0",
		ledgerv1.LedgerService_ListEntries_FullMethodName:       tenantLog + "/ledger/entries/0-1",
		ledgerv1.RoleGrantService_ListRoleGrants_FullMethodName: "tenants/jeongeup/role-grants",
	}
	got := map[string]string{}
	require.Eventually(t, func() bool {
		clear(got)
		for _, e := range accessEntries(cl, cpo, tenantLog) {
			if e.GetActor() == "tenant-auditor" {
				got[e.GetAction()] = e.GetSubject()
			}
		}
		return assert.ObjectsAreEqual(want, got)
	}, 15*time.Second, 20*time.Millisecond, "%v", got)

	// "-" is the tenant's log, not a unit: a unit's resources under it are still refused.
	_, err = s.Registry.ListOfficers(cpo, &registryv1.ListOfficersRequest{Parent: tenantLog})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	_, err = cl.AppendEntry(cpo, &ledgerv1.AppendEntryRequest{Parent: tenantLog, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: timestamppb.Now(), Actor: "x", Subject: "y", Action: "z", RemoteAddr: "10.0.0.1"}})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "only pipa's access log appends to it: %v", err)
}
