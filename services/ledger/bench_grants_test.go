package ledger_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
)

// BenchmarkListRoleGrants: a page of a tenant's role-grant history (issue 15, S-5), read from the
// ROLE_CHANGE entries of the tenant's logs (partial index entries_role_changes) and decoded from
// their leaves, in a tenant whose unit log also holds 20,000 ACCESS entries: "page" is the newest
// 100 of 400 records (100 accounts, 4 each), "subject" one account's 4, filtered in Go over the
// 400. Not part of `make test`:
//
//	cd services/ledger && go test -run '^$' -bench BenchmarkListRoleGrants -benchtime 200x .
func BenchmarkListRoleGrants(b *testing.B) {
	s := newTilesStack(b)
	as := func(subject string, role auth.Role, scope string) metadata.MD {
		return metadata.Pairs("authorization", "Bearer "+s.tokenAs(b, subject, role, scope))
	}
	svc := metadata.NewOutgoingContext(b.Context(), as("pipa-service", auth.RoleService, auth.ScopeAll))
	at := timestamppb.New(time.Now().Add(-time.Hour))
	for range 40 {
		reqs := make([]*ledgerv1.AppendEntryRequest, 500)
		for j := range reqs {
			reqs[j] = &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: at,
				Actor: "song.sh", RemoteAddr: "10.0.0.1", Subject: iksanLog + "/requests/R-2026-000001", Action: "GetRequest"}}
		}
		_, err := s.client.BatchAppendEntries(svc, &ledgerv1.BatchAppendEntriesRequest{Parent: iksanLog, Requests: reqs})
		require.NoError(b, err)
	}
	handler := &ledgerv1.TokenGrant{Role: "handler", Scope: iksanLog}
	auditor := &ledgerv1.TokenGrant{Role: "auditor", Scope: "tenants/iksan"}
	for a := range 100 {
		for _, set := range [][]*ledgerv1.TokenGrant{{handler}, {handler, auditor}, {auditor}, nil} {
			_, err := s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer,
				Subject: fmt.Sprintf("acct-%03d", a), Source: rolechange.SourceToken, Grants: set})
			require.NoError(b, err)
		}
	}
	cpo := metadata.NewOutgoingContext(b.Context(), as("cpo", auth.RoleCPO, "tenants/iksan"))
	for _, bc := range []struct {
		name, subject string
		want          int
	}{{"page", "", 100}, {"subject", "acct-050", 4}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.grants.ListRoleGrants(cpo, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/iksan", Subject: bc.subject, PageSize: 100})
				require.NoError(b, err)
				require.Len(b, got.GetRoleGrants(), bc.want)
			}
		})
	}
}

// BenchmarkRecordRoleGrants: one change of an account's roles recorded (S-5): the account's lock
// (an advisory lock across replicas), its last set read by keyed hash, the ROLE_CHANGE entry
// appended and its index row written; 16 callers, each changing its own account's set back and
// forth. Reports CPU per record (this process; PostgreSQL's is not counted). Not part of
// `make test`:
//
//	cd services/ledger && go test -run '^$' -bench BenchmarkRecordRoleGrants -benchtime 2000x .
func BenchmarkRecordRoleGrants(b *testing.B) {
	s := newTilesStack(b)
	svc := metadata.NewOutgoingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+s.tokenAs(b, "pipa-service", auth.RoleService, auth.ScopeAll)))
	sets := [][]*ledgerv1.TokenGrant{{{Role: "handler", Scope: iksanLog}}, {{Role: "auditor", Scope: iksanLog}}}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	cpu := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		account := fmt.Sprintf("acct-%03d", next.Add(1))
		for i := 0; pb.Next(); i++ {
			got, err := s.grants.RecordRoleGrants(svc, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: account,
				Source: rolechange.SourceToken, Grants: sets[i%2]})
			if err != nil || len(got.GetRecorded()) != 1 {
				b.Errorf("record: %v, %d recorded", err, len(got.GetRecorded()))
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
