package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// DEC-32-2: a local government's CPO is a grade-4 or higher official: an officer of a lower
// stated grade is not made CPO (neither created nor updated into the role), and a CPO whose grade
// is not recorded (Iksan's, seed 004) is a duty in the list.
func TestCPOGrade_DEC_32_2(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	s.Load("iksan.yaml")
	ctx := s.Admin()
	cpo := []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}
	staff := []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF}
	o, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: seongnamUnit, OfficerId: "clerk",
		Officer: &registryv1.Officer{DisplayName: "김주무", Title: "주무관", Grade: "지방행정주사(6급)", Roles: staff}})
	require.NoError(t, err)

	refuseAll(t, s, []refusal{
		{name: "created CPO", call: func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: seongnamUnit, OfficerId: "cpo2",
				Officer: &registryv1.Officer{DisplayName: "박주사", Grade: "6급", Roles: cpo}})
			return err
		}, code: codes.InvalidArgument, field: "officer.grade", rule: "DEC-32-2"},
		{name: "made CPO", call: func() error {
			o.Roles = cpo
			_, err := s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: o})
			return err
		}, code: codes.InvalidArgument, field: "officer.grade", rule: "DEC-32-2"},
	})
	// Grade 4 is enough.
	_, err = s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: seongnamUnit, OfficerId: "cpo3",
		Officer: &registryv1.Officer{DisplayName: "이서기관", Grade: "지방서기관(4급)", Roles: cpo}})
	require.NoError(t, err)

	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: "tenants/iksan"})
	require.NoError(t, err)
	require.NotNil(t, obligationOf(ob, "DEC-32-2", "tenants/iksan/units/city/officers/cpo"), "%v", rulesOf(ob))
	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: "tenants/seongnam"})
	require.NoError(t, err)
	for _, r := range rulesOf(ob) {
		require.NotContains(t, r, "DEC-32-2", "Seongnam's CPOs' grades are recorded")
	}
}

// S-4-1, S-4-4, S-4-2: the body owes an internal management plan; once recorded, the contents it
// does not cover, the CPO's yearly inspection and the staff's training are duties until done.
func TestInternalPlanDuties(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: "tenants/seongnam"})
	require.NoError(t, err)
	require.NotNil(t, obligationOf(ob, "S-4-1", "tenants/seongnam"))

	var contents []*registryv1.PlanContent
	for k := registryv1.PlanContentKind(1); k <= registryv1.PlanContentKind_PLAN_CONTENT_KIND_PLAN_CHANGES; k++ {
		if k != registryv1.PlanContentKind_PLAN_CONTENT_KIND_PRINTING {
			contents = append(contents, &registryv1.PlanContent{Kind: k, Article: "제" + k.String()})
		}
	}
	before := registerEntries(t, s, "seongnam")
	p, err := s.Registry.CreateInternalPlan(ctx, &registryv1.CreateInternalPlanRequest{Parent: seongnamUnit, InternalPlanId: "plan",
		InternalPlan: &registryv1.InternalPlan{DisplayName: "개인정보 내부 관리계획", AdoptedDate: registrytest.InDays(-400), AdoptedBy: "도서관사업소-100",
			Contents: contents, TrainingMonths: 12,
			Trainings: []*registryv1.Training{{Date: registrytest.InDays(-100), Audience: "전 직원", Content: "개인정보 보호법", Method: "집합", Evidence: "도서관사업소-300"}}}})
	require.NoError(t, err)
	require.Equal(t, before+1, registerEntries(t, s, "seongnam"))

	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: "tenants/seongnam"})
	require.NoError(t, err)
	require.Nil(t, obligationOf(ob, "S-4-1", "tenants/seongnam"))
	missing := obligationOf(ob, "S-4-1", p.GetName())
	require.NotNil(t, missing)
	require.Contains(t, missing.GetTitle(), "출력·복사 시 보호조치")
	require.NotContains(t, missing.GetTitle(), "암호화")
	insp := obligationOf(ob, "S-4-4", p.GetName()+"#inspections")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, insp.GetState(), "never inspected in the 400 days since adoption")
	tr := obligationOf(ob, "S-4-2", p.GetName()+"#trainings")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, tr.GetState())
	require.Equal(t, int32(365-100), tr.GetDaysLeft())

	p.Inspections = []*registryv1.SupervisionRecord{{Date: registrytest.InDays(-3), Description: "이행실태 점검", Evidence: "도서관사업소-400"}}
	p.Contents = append(p.Contents, &registryv1.PlanContent{Kind: registryv1.PlanContentKind_PLAN_CONTENT_KIND_PRINTING, Article: "제20조"})
	p.Revisions = []*registryv1.PlanRevision{{Date: registrytest.InDays(-2), Description: "출력·복사 보호조치 추가", ApprovedBy: "도서관사업소-401"}}
	p, err = s.Registry.UpdateInternalPlan(ctx, &registryv1.UpdateInternalPlanRequest{InternalPlan: p})
	require.NoError(t, err)
	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Nil(t, obligationOf(ob, "S-4-1", p.GetName()))
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, obligationOf(ob, "S-4-4", p.GetName()+"#inspections").GetState())

	refuseAll(t, s, []refusal{
		{name: "training without evidence", call: func() error {
			_, err := s.Registry.CreateInternalPlan(ctx, &registryv1.CreateInternalPlanRequest{Parent: seongnamUnit, InternalPlanId: "x",
				InternalPlan: &registryv1.InternalPlan{DisplayName: "x", AdoptedDate: registrytest.InDays(-1), AdoptedBy: "x",
					Trainings: []*registryv1.Training{{Date: registrytest.InDays(-1), Audience: "a", Content: "c"}}}})
			return err
		}, code: codes.InvalidArgument, field: "internal_plan.trainings[0].evidence", rule: "S-4-2"},
		{name: "not adopted", call: func() error {
			_, err := s.Registry.CreateInternalPlan(ctx, &registryv1.CreateInternalPlanRequest{Parent: seongnamUnit, InternalPlanId: "x",
				InternalPlan: &registryv1.InternalPlan{DisplayName: "x", AdoptedBy: "x"}})
			return err
		}, code: codes.InvalidArgument, field: "internal_plan.adopted_date", rule: "S-4-1"},
		{name: "revision without what", call: func() error {
			p.Revisions = append(p.Revisions, &registryv1.PlanRevision{Date: registrytest.InDays(-1)})
			_, err := s.Registry.UpdateInternalPlan(ctx, &registryv1.UpdateInternalPlanRequest{InternalPlan: p})
			return err
		}, code: codes.InvalidArgument, field: "internal_plan.revisions[1].description", rule: "S-4-3"},
	})
}
