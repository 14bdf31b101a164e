package retention

import (
	"context"
	"fmt"

	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/obligation"
)

// ListObligations lists what retention makes due in the tenant or unit: each destruction plan
// awaiting approval or execution, due when its earliest item is 5 days past due (STD-10-1), and
// each copy still out with another body, due on its destruction date (C-9). The registry merges
// them into the body's one list.
func (s *Server) ListObligations(ctx context.Context, req *retentionv1.ListObligationsRequest) (*retentionv1.ListObligationsResponse, error) {
	tenant, unit, err := names.ParseScope("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := obligation.Authorize(ctx, tenant, unit, readRoles, s.units.Authorize); err != nil {
		return nil, err
	}
	plans, err := s.store.OpenPlans(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListObligationsResponse{}
	now := s.now()
	for _, p := range plans {
		title := fmt.Sprintf("파기계획 %d번 승인 (항목 %d건)", p.ID, p.Doc.GetItemCount())
		if p.Doc.GetState() == retentionv1.PlanState_PLAN_STATE_APPROVED {
			title = fmt.Sprintf("파기계획 %d번 파기 실행 (항목 %d건)", p.ID, p.Doc.GetItemCount())
		}
		out.Obligations = append(out.Obligations, obligation.Duty{Source: "retention", Tenant: tenant, Unit: p.Unit,
			Resource: p.Doc.GetName(), Rule: "STD-10-1", Title: title}.Timed(p.OverdueTime, now))
	}
	copies, err := s.store.CopiesOut(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	for _, c := range copies {
		out.Obligations = append(out.Obligations, obligation.Duty{Source: "retention", Tenant: tenant, Unit: c.Unit,
			Resource: c.Doc.GetName(), Rule: "C-9",
			Title: fmt.Sprintf("제공한 사본의 파기 확인 (%s)", c.Doc.GetRecipient())}.Dated(c.Doc.GetDestructionDueDate(), now))
	}
	return out, nil
}
