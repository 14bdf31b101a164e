package registry

import (
	"context"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// The internal management plan (S-4; register.ValidatePlan), stored with its REGISTER entry like
// the other registers.

// CreateInternalPlan records the unit's internal management plan (S-4-1).
func (s *Server) CreateInternalPlan(ctx context.Context, req *registryv1.CreateInternalPlanRequest) (*registryv1.InternalPlan, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	p := proto.CloneOf(req.GetInternalPlan())
	if p == nil {
		p = &registryv1.InternalPlan{}
	}
	clearOutputOnly(p, "ledger_entry")
	vs := register.ValidatePlan(p, s.today())
	names.CheckID(&vs, "internal_plan_id", req.GetInternalPlanId())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	id := req.GetInternalPlanId()
	name, oid, err := s.store.Tenant(t).CreateRecord(ctx, u, pg.InternalPlans, func(context.Context, *pg.TenantStore) (string, error) { return id, nil },
		p, idem(ctx, req.GetRequestId(), req), s.registerEntry("내부 관리계획 기록: "+p.GetDisplayName()))
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, oid)
	return s.GetInternalPlan(ctx, &registryv1.GetInternalPlanRequest{Name: name})
}

var planRecord = record[*registryv1.InternalPlan]{kind: pg.InternalPlans, names: names.InternalPlans, field: "internal_plan",
	validate: register.ValidatePlan,
	changed:  func(p *registryv1.InternalPlan) string { return "내부 관리계획 변경: " + p.GetDisplayName() }}

func (s *Server) GetInternalPlan(ctx context.Context, req *registryv1.GetInternalPlanRequest) (*registryv1.InternalPlan, error) {
	return planRecord.get(ctx, s, req.GetName())
}

func (s *Server) ListInternalPlans(ctx context.Context, req *registryv1.ListInternalPlansRequest) (*registryv1.ListInternalPlansResponse, error) {
	ps, err := planRecord.list(ctx, s, req.GetParent())
	return &registryv1.ListInternalPlansResponse{InternalPlans: ps}, err
}

// UpdateInternalPlan replaces the plan's fields (a revision, an inspection, a training), at the
// etag read.
func (s *Server) UpdateInternalPlan(ctx context.Context, req *registryv1.UpdateInternalPlanRequest) (*registryv1.InternalPlan, error) {
	return planRecord.update(ctx, s, req.GetInternalPlan(), req.GetRequestId(), req)
}
