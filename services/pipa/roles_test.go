package main

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// S-5: each grant, change and revocation of an officer's roles in the registry is a ROLE_CHANGE
// entry of the unit's ledger (who, which roles before and after, by whom), a change that leaves
// the roles as they were records nothing, staff cannot write such entries themselves, nothing
// erases one before three years, and they export alone with kinds=role_change.
func TestOfficerRoleChangesReachTheLedger(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	auditor := s.As(auth.RoleAuditor, "tenants/jeongeup")
	name := libraryUnit + "/officers/kim-handler"

	// The officer's ROLE_CHANGE entries, oldest first, once there are want of them.
	entries := func(want int) []*ledgerv1.Entry {
		var got []*ledgerv1.Entry
		require.Eventually(t, func() bool {
			list, err := s.ledger().ListEntries(auditor, &ledgerv1.ListEntriesRequest{Parent: libraryLog,
				Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, PageSize: 500})
			require.NoError(t, err)
			got = slices.DeleteFunc(list.GetEntries(), func(e *ledgerv1.Entry) bool { return !strings.HasPrefix(e.GetActor(), name) })
			return len(got) >= want
		}, 60*time.Second, 100*time.Millisecond)
		require.Len(t, got, want)
		return got
	}

	o, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "kim-handler", RequestId: "kim-1",
		Officer: &registryv1.Officer{DisplayName: "김담당", Title: "주무관", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.NoError(t, err)
	// A retried create grants nothing twice.
	_, err = s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "kim-handler", RequestId: "kim-1",
		Officer: &registryv1.Officer{DisplayName: "김담당", Title: "주무관", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.NoError(t, err)
	grant := entries(1)[0]
	require.Equal(t, rolechange.Granted, grant.GetPurpose())
	require.Equal(t, name+" (김담당)", grant.GetActor())
	require.Equal(t, []string{"handler"}, grant.GetItems())
	require.NotEmpty(t, grant.GetHandler())

	// A change of title keeps the roles: nothing is recorded. A change of roles is.
	o.Title = "팀장"
	o, err = s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: o, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	require.NoError(t, err)
	o.Roles = []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER, registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED}
	o, err = s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: o, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles"}}})
	require.NoError(t, err)
	change := entries(2)[1]
	require.Equal(t, rolechange.Changed, change.GetPurpose())
	require.Equal(t, []string{"access_authorized", "handler"}, change.GetItems())
	require.Equal(t, "이전 권한: handler", change.GetNote())

	_, err = s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: name, Etag: o.GetEtag()})
	require.NoError(t, err)
	revoke := entries(3)[2]
	require.Equal(t, rolechange.Revoked, revoke.GetPurpose())
	require.Empty(t, revoke.GetItems())
	require.Equal(t, "이전 권한: access_authorized, handler", revoke.GetNote())

	// S-5: staff do not write role records; the retention path does not erase one before three years.
	_, err = s.ledger().AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, OccurTime: timestamppb.Now(), Actor: "x", Purpose: rolechange.Granted,
		Items: []string{"cpo"}, Form: "손으로", Handler: "x"}})
	code, _ := stacktest.Reason(err)
	require.Equal(t, codes.PermissionDenied, code)
	_, err = s.ledger().RedactEntry(s.As(auth.RoleCPO, libraryUnit), &ledgerv1.RedactEntryRequest{Name: grant.GetName(), Reason: "보유기간 경과"})
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code, "%v", err)
	require.Equal(t, "RETENTION_PERIOD", reason)

	// S-5: a retention rule shorter than three years does not take a role record.
	rule, err := retentionv1.NewRetentionServiceClient(s.Conn).CreateRule(s.As(auth.RoleManager, libraryUnit), &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "ledger-2y",
		Rule: &retentionv1.Rule{DisplayName: "관리대장 개인정보", Target: retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES, PeriodDays: 730,
			ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_PLAN, Method: "개인정보 영구삭제(복구 불가)"}})
	require.NoError(t, err)
	_, err = retentionv1.NewRetentionServiceClient(s.Conn).CreateItem(s.As(auth.RoleHandler, libraryUnit), &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: rule.GetName(), Resource: grant.GetName()}})
	v := stacktest.Violation(t, err)
	require.Equal(t, "item.resource", v.GetField())
	require.Equal(t, "S-5", v.GetReason(), v.GetDescription())

	// The role record exports alone.
	resp := s.Get("/v1/"+libraryLog+"/ledger:export?kinds=role_change&format=csv", "Authorization", "Bearer "+s.Token(auth.RoleAuditor, "tenants/jeongeup"))
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	var ours int
	for _, r := range rows[1:] {
		require.Equal(t, "접근권한 부여·변경·말소", r[1])
		if slices.ContainsFunc(r, func(c string) bool { return strings.HasPrefix(c, name) }) {
			ours++
		}
	}
	require.Equal(t, 3, ours)
}
