package retention

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

// A destruction plan (파기요청서, STD-55 별지4) is proposed by a sweep, approved by the CPO and
// completed by the CPO once the data are destroyed (STD-10-4: the CPO confirms the result).
// Completion erases what other services keep (a closed request's personal fields, a ledger
// entry's personal values), appends one DESTRUCTION entry per rule, and issues the signed
// certificate and the 별지5 rows. Each step is idempotent, so a completion cut short is
// finished by calling CompletePlan again with the same values (its etag is then not compared).
// Items a hold covers are never destroyed (PIPA-21-1): completion checks the holds again in each
// transaction that erases or queues an item.

func (s *Server) GetPlan(ctx context.Context, req *retentionv1.GetPlanRequest) (*retentionv1.Plan, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Plans, readRoles)
	if err != nil {
		return nil, err
	}
	p, err := s.store.GetPlan(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return lifecycle.PlanView(p, s.now()), nil
}

func (s *Server) ListPlans(ctx context.Context, req *retentionv1.ListPlansRequest) (*retentionv1.ListPlansResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if retentionv1.PlanState_name[int32(req.GetState())] == "" {
		vs.Add("state", "format", "unknown plan state %d", req.GetState())
	}
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.plans", req.GetParent(), req.GetState().String()}
	after, terr := query.ParseN(req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	plans, next, err := s.store.ListPlans(ctx, tenant, unit, req.GetState(), size, after)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &retentionv1.ListPlansResponse{NextPageToken: query.TokenN(next)}
	for _, p := range plans {
		// The basic view: a certificate and its records grow with the plan's items.
		v := lifecycle.PlanView(p, now)
		v.Certificate, v.Records = nil, nil
		out.Plans = append(out.Plans, v)
	}
	return out, nil
}

// authorizeCPO checks that the caller may see the unit and, for what only the CPO does, that it
// is the CPO: anyone else is refused naming the rule (STD-55, STD-10-4).
func (s *Server) authorizeCPO(ctx context.Context, name, what string) (tenant, unit string, id int64, err error) {
	if tenant, unit, id, err = s.authorizedN(ctx, name, names.Plans, readRoles); err != nil {
		return "", "", 0, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, cpoRoles); err != nil {
		if apierr.CodeOf(err) != codes.PermissionDenied {
			return "", "", 0, err
		}
		d := apierr.Denied("only the CPO (개인정보 보호책임자, role cpo) " + what + " (STD-55, STD-10-4)")
		d.Metadata = map[string]string{"rule": "STD-55"}
		return "", "", 0, d
	}
	return tenant, unit, id, nil
}

func (s *Server) ApprovePlan(ctx context.Context, req *retentionv1.ApprovePlanRequest) (*retentionv1.Plan, error) {
	tenant, unit, id, err := s.authorizeCPO(ctx, req.GetName(), "approves a destruction plan (파기요청서)")
	if err != nil {
		return nil, err
	}
	now := s.now()
	cpo := auth.Officer(ctx)
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_ApprovePlan_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	p, err := s.store.UpdatePlan(ctx, tenant, unit, id, key, req.GetEtag(), func(p *lifecycle.Plan) error { return lifecycle.Approve(p, cpo, now) })
	if err != nil {
		return nil, err
	}
	return s.GetPlan(ctx, &retentionv1.GetPlanRequest{Name: p.Doc.GetName()})
}

func (s *Server) CompletePlan(ctx context.Context, req *retentionv1.CompletePlanRequest) (*retentionv1.Plan, error) {
	tenant, unit, id, err := s.authorizeCPO(ctx, req.GetName(), "confirms a destruction's result")
	if err != nil {
		return nil, err
	}
	now := s.now()
	var vs apierr.Violations
	when := lifecycle.ValidateCompletion(&vs, req, now)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	sctx, err := s.asService(ctx)
	if err != nil {
		return nil, err
	}
	head, err := s.departmentHead(sctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	exclude := req.GetExcludeHeldItems()
	c := lifecycle.Completion{Method: req.GetMethod(), DestroyedBy: req.GetDestroyedBy(), Time: when,
		TimeGiven: req.GetDestructionTime() != nil, Etag: req.GetEtag()}
	rid, err := idem(req.GetRequestId(), retentionv1.RetentionService_CompletePlan_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	p, err := s.store.StartCompletion(ctx, tenant, unit, id, rid, exclude, func(p *lifecycle.Plan) error { return lifecycle.StartCompletion(p, c) })
	if err != nil {
		return nil, err
	}
	if rid.RequestID != "" && p.Doc.GetState() == retentionv1.PlanState_PLAN_STATE_COMPLETED {
		// A retry of a completion that finished answers the plan as it stands, doing nothing again;
		// one that was cut short goes on with the steps left (each is idempotent).
		return lifecycle.PlanView(p, now), nil
	}
	plan := p.Doc
	fwd := unitauth.ForwardToken(ctx)
	if err := s.erase(fwd, sctx, tenant, unit, p.ID, plan, exclude); err != nil {
		return nil, err
	}
	outbox, err := s.store.QueuePlanEntries(ctx, tenant, unit, p.ID, plan.GetDestructionTime().AsTime(), exclude, func(g lifecycle.RuleGroup) *ledgerv1.AppendEntryRequest {
		return lifecycle.PlanDestruction(plan, g)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range outbox {
		if err := s.deliver(fwd, tenant, id); err != nil {
			return nil, err
		}
	}
	key, err := s.store.Key(ctx, tenant)
	if err != nil {
		return nil, err
	}
	unitTitle := names.Unit(tenant, unit)
	if u, err := s.registry.GetUnit(sctx, &registryv1.GetUnitRequest{Name: unitTitle}); err == nil {
		unitTitle = u.GetDisplayName() + " (" + unitTitle + ")"
	}
	done, err := s.store.FinishPlan(ctx, tenant, unit, p.ID, func(p *lifecycle.Plan, items []lifecycle.PlanItem, rules map[string]*lifecycle.Rule) error {
		return lifecycle.Finish(p, items, rules, key, unitTitle, head)
	})
	if err != nil {
		return nil, err
	}
	return lifecycle.PlanView(done, now), nil
}

// erase erases, before anything is recorded as destroyed, the personal fields that other services
// keep for the plan's items: a closed request's, by the request service (which takes only the
// service credential, sctx), and a ledger entry's, by the ledger's redaction, which the CPO
// performs (fwd carries the CPO's token). Each item's erasure is claimed in a transaction that
// checks its holds (PIPA-21-1: one a hold covers is refused or, with exclude, taken out of the
// plan) and made after it commits, so that no call waits in a transaction; a claimed item is
// destroyed in fact, and recorded so, whatever hold comes after. Each erasure is idempotent, so
// a completion repeated after a failure repeats none.
func (s *Server) erase(fwd, sctx context.Context, tenant, unit string, plan int64, p *retentionv1.Plan, exclude bool) error {
	reason := "보유기간 경과 (파기계획 " + p.GetName() + ")"
	for after := int64(0); ; {
		batch, last, err := s.store.ClaimErasures(fwd, tenant, unit, plan, exclude, after, 100)
		if err != nil || last == 0 {
			return err
		}
		after = last
		for _, e := range batch {
			switch e.Target {
			case retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS:
				_, err = s.requests.ErasePersonalData(sctx, &requestsv1.ErasePersonalDataRequest{Name: e.Resource, Reason: reason,
					RequestId: fmt.Sprintf("retention/items/%d/erase", e.ItemID)})
			case retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES:
				_, err = s.ledger.RedactEntry(fwd, &ledgerv1.RedactEntryRequest{Name: e.Resource, Reason: reason,
					RequestId: fmt.Sprintf("retention/items/%d/redact", e.ItemID)})
				if apierr.CodeOf(err) == codes.FailedPrecondition {
					// Redacted before (by hand, or under another request id): nothing is left to erase.
					if got, gerr := s.ledger.GetEntry(fwd, &ledgerv1.GetEntryRequest{Name: e.Resource}); gerr == nil && got.GetRedacted() {
						err = nil
					}
				}
			}
			if err != nil {
				return fmt.Errorf("retention: erase %s: %w", e.Resource, err)
			}
			if err := s.store.Erased(fwd, tenant, e.ItemID); err != nil {
				return err
			}
		}
	}
}

// departmentHead is the 처리부서장 of the unit's 별지5 rows (lifecycle.DepartmentHead) among the
// officers the registry lists for it.
func (s *Server) departmentHead(sctx context.Context, tenant, unit string) (string, error) {
	var officers []*registryv1.Officer
	for tok := ""; ; {
		list, err := s.registry.ListOfficers(sctx, &registryv1.ListOfficersRequest{Parent: names.Unit(tenant, unit), PageToken: tok, PageSize: 100})
		if err != nil {
			return "", err
		}
		officers = append(officers, list.GetOfficers()...)
		if tok = list.GetNextPageToken(); tok == "" {
			return lifecycle.DepartmentHead(officers), nil
		}
	}
}
