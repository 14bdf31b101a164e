package retention_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// The one list of what is due (issue 16 item 5): a stack holding one of each, the registers'
// duties of the seed, an open request (PIPA-35-3), a breach past its 72 hours (PIPA-34-1), a
// destruction plan awaiting approval (STD-10-1) and a copy out with the police (C-9), listed by
// the registry for the tenant and the unit, overdue first, with D-days and hours, nothing
// missing; another tenant's officer sees none of it.
func TestObligationsAcrossServices(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	clock.Set(time.Now().Add(-time.Hour))
	handler, manager, cpo := s.As(auth.RoleHandler, libraryUnit), s.As(auth.RoleManager, libraryUnit), s.As(auth.RoleCPO, "tenants/jeongeup")
	service := s.As(auth.RoleService, auth.ScopeAll)

	created, err := s.requests().CreateRequest(handler, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	open := created.GetRequest()
	b, err := requestsv1.NewBreachServiceClient(s.Conn).CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &requestsv1.Breach{
		Type: requestsv1.BreachType_BREACH_TYPE_LOSS_THEFT, KnownTime: timestamppb.New(clock.Now().Add(-time.Hour)),
		Cause: requestsv1.BreachCause_BREACH_CAUSE_LOSS_THEFT, SubjectCount: 40, Circumstances: "대출 기록 출력물 분실"}})
	require.NoError(t, err)
	e, err := s.ledger().AppendEntry(handler, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
	require.NoError(t, err)
	provision, err := s.ledger().GetEntry(handler, &ledgerv1.GetEntryRequest{Name: e.GetName()})
	require.NoError(t, err)
	cl := s.retention()
	copied, err := cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit,
		Copy: &retentionv1.Copy{ProvisionIndex: provision.GetIndex(), Request: libraryUnit + "/requests/P-2026-000001"}})
	require.NoError(t, err)
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "ledger-personal", Rule: &retentionv1.Rule{
		DisplayName: "관리대장 요구인 개인정보", Target: retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES,
		PeriodDays: 3, ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_PLAN,
		Method: "개인정보 영구삭제(복구 불가)"}})
	require.NoError(t, err)
	_, err = cl.CreateItem(handler, &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: rule.GetName(), Resource: provision.GetName()}})
	require.NoError(t, err)
	// Five days on (the retention and breach clock), the item is due and planned; the breach's
	// 72 hours have run out.
	clock.Set(time.Now().AddDate(0, 0, 5))
	swept, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, swept.GetPlans(), 1)

	reg := registryv1.NewRegistryServiceClient(s.Conn)
	list, err := reg.ListObligations(cpo, &registryv1.ListObligationsRequest{Parent: "tenants/jeongeup"})
	require.NoError(t, err)
	require.Empty(t, list.GetMissing(), "every source answered")
	bySource := map[string][]*registryv1.Obligation{}
	for _, o := range list.GetObligations() {
		bySource[o.GetSource()] = append(bySource[o.GetSource()], o)
	}
	require.NotEmpty(t, bySource["registry"], "the seed's files owe their registration (PIPA-32-1)")

	require.Len(t, bySource["requests"], 1)
	r := bySource["requests"][0]
	require.Equal(t, open.GetName(), r.GetResource())
	require.Equal(t, "PIPA-35-3", r.GetRule())
	require.Equal(t, open.GetDueDate(), r.GetDueDate())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, r.GetState())
	require.Positive(t, r.GetDaysLeft())
	require.Equal(t, libraryUnit, r.GetUnit())

	require.Len(t, bySource["breaches"], 1, "the notice; 40 subjects lost by theft need no report (PIPA-34-4)")
	n := bySource["breaches"][0]
	require.Equal(t, b.GetName(), n.GetResource())
	require.Equal(t, "PIPA-34-1", n.GetRule())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, n.GetState())
	require.True(t, n.GetDueTime().AsTime().Equal(b.GetKnownTime().AsTime().Add(72*time.Hour)))
	require.Less(t, n.GetHoursLeft(), int64(-40), "the hours run on the breaches' clock")

	require.Len(t, bySource["retention"], 2)
	rules := map[string]*registryv1.Obligation{}
	for _, o := range bySource["retention"] {
		rules[o.GetRule()] = o
	}
	require.Equal(t, swept.GetPlans()[0], rules["STD-10-1"].GetResource())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, rules["STD-10-1"].GetState())
	require.NotNil(t, rules["STD-10-1"].GetDueTime())
	require.Equal(t, copied.GetName(), rules["C-9"].GetResource())
	require.Equal(t, copied.GetDestructionDueDate(), rules["C-9"].GetDueDate())
	require.Equal(t, int32(25), rules["C-9"].GetDaysLeft(), "30 days from the provision, read five days on")

	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, list.GetObligations()[0].GetState(), "overdue first")
	require.Positive(t, list.GetOverdueCount())
	require.EqualValues(t, len(list.GetObligations()), list.GetDueCount()+list.GetOverdueCount())

	// The unit's list holds the same duties of the other services; filtered, only the overdue.
	unit, err := reg.ListObligations(handler, &registryv1.ListObligationsRequest{Parent: libraryUnit,
		States: []registryv1.DeadlineState{registryv1.DeadlineState_DEADLINE_STATE_OVERDUE}})
	require.NoError(t, err)
	require.Empty(t, unit.GetMissing())
	var overdue []string
	for _, o := range unit.GetObligations() {
		require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, o.GetState())
		overdue = append(overdue, o.GetResource())
	}
	require.Contains(t, overdue, b.GetName())

	// Over REST, the same list.
	resp := s.Get("/v1/tenants/jeongeup/obligations", "Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/jeongeup"))
	body := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var rest struct {
		Obligations []struct{ Source, Resource string }
		Missing     []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rest))
	require.Empty(t, rest.Missing)
	require.Contains(t, rest.Obligations, struct{ Source, Resource string }{"breaches", b.GetName()})

	// Another tenant's CPO reads none of it, from the registry or from the services themselves.
	other := s.As(auth.RoleCPO, "tenants/seongnam")
	_, err = reg.ListObligations(other, &registryv1.ListObligationsRequest{Parent: "tenants/jeongeup"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = s.requests().ListObligations(other, &requestsv1.ListObligationsRequest{Parent: "tenants/jeongeup"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.ListObligations(other, &retentionv1.ListObligationsRequest{Parent: libraryUnit})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
}
