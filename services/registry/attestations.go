package registry

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Attestations are the one source of a "we do not process this" statement (WG26-ITEMS): an
// officer of the unit, or of a unit above it, declares it for one statutory item, and pipa records
// who, when and which item. A policy states it only where an article binds it.

func (s *Server) CreateAttestation(ctx context.Context, req *registryv1.CreateAttestationRequest) (*registryv1.Attestation, error) {
	t, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	in := proto.CloneOf(req.GetAttestation())
	if in == nil {
		in = &registryv1.Attestation{}
	}
	var vs apierr.Violations
	names.CheckID(&vs, "attestation_id", req.GetAttestationId())
	checkRequestID(&vs, req.GetRequestId())
	ut, u, uerr := names.ParseUnit("attestation.unit", in.GetUnit())
	if uerr != nil || ut != t {
		vs.Add("attestation.unit", "format", "must be a unit of %s: tenants/%s/units/{unit}", names.Tenant(t), t)
	}
	switch {
	case in.GetKind() != registryv1.PolicyKind_POLICY_KIND_PRIVACY && in.GetKind() != registryv1.PolicyKind_POLICY_KIND_CCTV:
		vs.Add("attestation.kind", "required", "must be POLICY_KIND_PRIVACY or POLICY_KIND_CCTV")
	case !applicable(in.GetKind(), in.GetItem()):
		vs.Add("attestation.item", "WG26-ITEMS", "only an item that applies only where processed can be attested as not processed (got %q); the mandatory ones must be stated", in.GetItem())
	}
	required(&vs, "attestation.statement", in.GetStatement())
	checkText(&vs, "attestation.statement", in.GetStatement())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	// The CPO answers for the policy (PIPA-31-4); the unit's managers for their own unit.
	if err := s.authorize(ctx, t, u, []auth.Role{"cpo", "manager", "tenant_admin"}); err != nil {
		return nil, err
	}
	ts := s.store.Tenant(t)
	path, err := ts.UnitPath(ctx, u)
	if err != nil {
		return nil, err
	}
	ot, ou, oid, err := names.Officers.Parse("attestation.officer", in.GetOfficer())
	if err != nil {
		return nil, err
	}
	if ot != t || !slices.Contains(path, ou) {
		return nil, apierr.Invalid(apierr.Violation{Field: "attestation.officer", Rule: "exists",
			Description: "must be an officer of " + in.GetUnit() + " or of a unit above it"})
	}
	o := &registryv1.Officer{}
	if err := ts.GetChild(ctx, officerKind.kind, ou, oid, o); err != nil {
		return nil, apierr.Invalid(apierr.Violation{Field: "attestation.officer", Rule: "exists", Description: in.GetOfficer() + " does not exist"})
	}
	p, _ := auth.FromContext(ctx)
	in.OfficerLabel = strings.TrimSpace(o.GetTitle() + " " + o.GetDisplayName())
	in.RecordedBy = p.Subject
	in.AttestDate = policy.Today(s.now()).String()
	return ts.CreateAttestation(ctx, req.GetAttestationId(), u, in, idem(ctx, req.GetRequestId(), req))
}

// applicable reports whether an item is one that applies only where processed.
func applicable(kind registryv1.PolicyKind, key string) bool {
	it, ok := policy.Lookup(kind, key)
	return ok && it.Requirement == policy.Applicable
}

func (s *Server) GetAttestation(ctx context.Context, req *registryv1.GetAttestationRequest) (*registryv1.Attestation, error) {
	t, id, err := names.Attestations.Parse("name", req.GetName())
	if err != nil {
		return nil, err
	}
	a, err := s.store.Tenant(t).GetAttestation(ctx, id)
	if err != nil {
		return nil, s.hideAttestation(ctx, t, err)
	}
	_, u, _ := names.ParseUnit("unit", a.GetUnit())
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	return a, nil
}

// hideAttestation answers a missing attestation as a denial to a caller without a role in the
// tenant, who must not learn what exists.
func (s *Server) hideAttestation(ctx context.Context, t string, err error) error {
	if aerr := s.authorize(ctx, t, "", readRoles); aerr != nil {
		p, _ := auth.FromContext(ctx)
		all, tenants := p.TenantScope()
		if !all && !slices.Contains(tenants, t) {
			return aerr
		}
	}
	return err
}

func (s *Server) ListAttestations(ctx context.Context, req *registryv1.ListAttestationsRequest) (*registryv1.ListAttestationsResponse, error) {
	t, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	u := ""
	if req.GetUnit() != "" {
		ut, uid, err := names.ParseUnit("unit", req.GetUnit())
		if err != nil || ut != t {
			return nil, apierr.Invalid(apierr.Violation{Field: "unit", Rule: "format", Description: "must be a unit of " + names.Tenant(t)})
		}
		u = uid
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	as, next, err := s.store.Tenant(t).ListAttestations(ctx, u, size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &registryv1.ListAttestationsResponse{Attestations: as, NextPageToken: next}, nil
}

func (s *Server) DeleteAttestation(ctx context.Context, req *registryv1.DeleteAttestationRequest) (*emptypb.Empty, error) {
	a, err := s.GetAttestation(ctx, &registryv1.GetAttestationRequest{Name: req.GetName()})
	t, id, _ := names.Attestations.Parse("name", req.GetName())
	if apierr.CodeOf(err) == codes.NotFound && req.GetRequestId() != "" {
		// A retry after the first call deleted it (only a caller with a role in the tenant gets
		// NotFound): the first call's record answers; without one it stays NotFound.
		notFound := err
		if _, err := s.once(ctx, t, req.GetRequestId(), req, req.GetName(), func(*pg.TenantStore) error { return notFound }, nil); err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	}
	if err != nil {
		return nil, err
	}
	_, u, _ := names.ParseUnit("unit", a.GetUnit())
	if err := s.authorize(ctx, t, u, []auth.Role{"cpo", "manager", "tenant_admin"}); err != nil {
		return nil, err
	}
	if _, err := s.once(ctx, t, req.GetRequestId(), req, req.GetName(), func(tx *pg.TenantStore) error {
		return tx.DeleteAttestation(ctx, id, req.GetEtag())
	}, nil); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
