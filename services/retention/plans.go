package retention

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
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
	return s.planView(p, s.now()), nil
}

// planView is a plan as served: overdue when, with items, not completed 5 days after its first
// item was due (STD-10-1).
func (s *Server) planView(p *pg.Plan, now time.Time) *retentionv1.Plan {
	out := p.Doc
	out.Overdue = out.GetState() != retentionv1.PlanState_PLAN_STATE_COMPLETED && out.GetItemCount() > 0 && !now.Before(p.OverdueTime)
	return out
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
	size := pageSize(&vs, req.GetPageSize())
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
		v := s.planView(p, now)
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
	p, err := s.store.UpdatePlan(ctx, tenant, unit, id, req.GetEtag(), func(p *pg.Plan) error {
		if st := p.Doc.GetState(); st != retentionv1.PlanState_PLAN_STATE_PROPOSED {
			return apierr.Precondition("PLAN_NOT_PROPOSED", p.Doc.GetName()+" is "+st.String()+"; only a proposed plan is approved")
		}
		p.Doc.State, p.Doc.ApprovedBy, p.Doc.ApproveTime = retentionv1.PlanState_PLAN_STATE_APPROVED, auth.Officer(ctx), timestamppb.New(now)
		return nil
	})
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
	when := validateCompletion(&vs, req, now)
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
	p, err := s.store.StartCompletion(ctx, tenant, unit, id, exclude, func(p *pg.Plan) error {
		d := p.Doc
		if d.GetState() == retentionv1.PlanState_PLAN_STATE_PROPOSED {
			return apierr.Precondition("PLAN_NOT_APPROVED", d.GetName()+" is not approved: the CPO approves a plan before it is carried out (STD-55)")
		}
		if d.GetMethod() != "" {
			// Started before: a completion cut short (or whose answer was lost) is repeated with the
			// values it recorded, whatever the etag the caller read before it started.
			if d.GetMethod() != req.GetMethod() || d.GetDestroyedBy() != req.GetDestroyedBy() ||
				(req.GetDestructionTime() != nil && !d.GetDestructionTime().AsTime().Equal(when)) {
				if d.GetState() == retentionv1.PlanState_PLAN_STATE_COMPLETED {
					return apierr.Precondition("PLAN_COMPLETED", d.GetName()+" is already completed")
				}
				return apierr.Precondition("COMPLETION_STARTED", d.GetName()+"'s completion was started with other values: repeat it with method, destroyed_by and destruction_time as recorded")
			}
			return nil
		}
		if tag := req.GetEtag(); tag != "" && tag != d.GetEtag() {
			return apierr.EtagMismatch(d.GetName())
		}
		if when.Before(d.GetApproveTime().AsTime()) {
			return apierr.Invalid(apierr.Violation{Field: "destruction_time", Rule: "STD-55",
				Description: "a plan is carried out after the CPO approved it (" + d.GetApproveTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04") + ")"})
		}
		d.Method, d.DestroyedBy, d.DestructionTime = req.GetMethod(), req.GetDestroyedBy(), timestamppb.New(when)
		return nil
	})
	if err != nil {
		return nil, err
	}
	plan := p.Doc
	fwd := unitauth.ForwardToken(ctx)
	if err := s.erase(fwd, sctx, tenant, unit, p.ID, plan, exclude); err != nil {
		return nil, err
	}
	outbox, err := s.store.QueuePlanEntries(ctx, tenant, unit, p.ID, plan.GetDestructionTime().AsTime(), exclude, func(g pg.RuleGroup) *ledgerv1.AppendEntryRequest {
		return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: plan.GetDestructionTime(),
			FileName: groupName(g), Handler: plan.GetDestroyedBy(), Purpose: plan.GetReason(),
			DestructionMethod: plan.GetMethod(), Plan: plan.GetName()}}
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
	done, err := s.store.FinishPlan(ctx, tenant, unit, p.ID, func(p *pg.Plan, items []pg.PlanItem) error {
		rules := map[string]*pg.Rule{}
		for _, it := range items {
			if rules[it.RuleID] == nil {
				r, err := s.store.Rule(ctx, tenant, unit, it.RuleID)
				if err != nil {
					return err
				}
				rules[it.RuleID] = r
			}
		}
		cert, err := certificate(key, tenant, unit, unitTitle, p.Doc, items)
		if err != nil {
			return err
		}
		p.Doc.Records, p.Doc.Certificate = records(p.Doc, items, rules, head), cert
		p.Doc.State = retentionv1.PlanState_PLAN_STATE_COMPLETED
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.planView(done, now), nil
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
				_, err = s.requests.ErasePersonalData(sctx, &requestsv1.ErasePersonalDataRequest{Name: e.Resource, Reason: reason})
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

// groupName is the file name (STD-42-2 1) of what a plan destroys under one rule.
func groupName(g pg.RuleGroup) string {
	name := g.Rule.Doc.GetDisplayName()
	if g.FirstDay != nil {
		return fmt.Sprintf("%s 녹화분 %s~%s (%d일)", name, g.FirstDay.Format(time.DateOnly), g.LastDay.Format(time.DateOnly), g.Count)
	}
	return fmt.Sprintf("%s %d건", name, g.Count)
}

// departmentHead is the 처리부서장 of the unit's 별지5 rows: its CCTV manager (관리책임자), or
// failing one its CPO, as the registry lists its officers; empty when it lists neither.
func (s *Server) departmentHead(sctx context.Context, tenant, unit string) (string, error) {
	var best *registryv1.Officer
	rank := func(o *registryv1.Officer) int {
		switch {
		case slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER):
			return 2
		case slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CPO):
			return 1
		}
		return 0
	}
	for tok := ""; ; {
		list, err := s.registry.ListOfficers(sctx, &registryv1.ListOfficersRequest{Parent: names.Unit(tenant, unit), PageToken: tok, PageSize: 100})
		if err != nil {
			return "", err
		}
		for _, o := range list.GetOfficers() {
			if rank(o) > 0 && (best == nil || rank(o) > rank(best)) {
				best = o
			}
		}
		if tok = list.GetNextPageToken(); tok == "" {
			break
		}
	}
	if best == nil {
		return "", nil
	}
	return officerName(best), nil
}

// officerName is how a record names an officer: title and name, e.g. "소장 송현숙".
func officerName(o *registryv1.Officer) string {
	if o.GetDisplayName() == "" {
		return o.GetTitle()
	}
	return o.GetTitle() + " " + o.GetDisplayName()
}
