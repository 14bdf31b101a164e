package requests

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// idempotent is a request that carries a request_id (AIP-155).
type idempotent interface {
	proto.Message
	GetRequestId() string
}

// idemOf is the store's key of a request that carries a request_id (AIP-155).
func idemOf(req idempotent) (idem pg.Idem, err error) {
	idem = pg.Idem{RequestID: req.GetRequestId(), Method: string(proto.MessageName(req))}
	if idem.RequestID != "" {
		idem.Hash, err = idempotency.RequestHash(req)
	}
	return idem, err
}

// step takes a step of the request named name: parse and authorize; gather what the domain needs
// (the tenant's clock, the notice's issuer) before the row is locked; let the domain decide under
// the lock (request.Apply) while the store writes the request, its notice, its ledger entry in the
// outbox and any hand-off in one transaction; then deliver the entry at once, so that the answer
// usually carries its index (if the ledger is out, the outbox's job delivers it later and the
// step shows pending), and hand off to the retention service what follows it.
//
// A step that carries a request_id is taken once (AIP-155, pg.Store.Transition): its retry after a
// lost answer gets the request as it stands instead of INVALID_TRANSITION.
func (s *Server) step(ctx context.Context, req stepRequest, st request.Step) (*requestsv1.Request, error) {
	name, etag := req.GetName(), req.GetEtag()
	tenant, unit, receipt, err := s.authorizeRequest(ctx, "name", name, staffRoles)
	if err != nil {
		return nil, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, err
	}
	t, err := s.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	env := request.Env{Officer: auth.Officer(ctx), Tenant: t}
	if request.IssuesNotice(st) {
		if u, err := s.registry.GetUnit(unitauth.ForwardToken(ctx), &registryv1.GetUnitRequest{Name: names.Unit(tenant, unit)}); err == nil {
			env.Issuer = u.GetFullName()
		}
	}
	rec, entry, err := s.store.Transition(ctx, tenant, unit, receipt, etag, idem, func(r *request.Request) (request.Outcome, error) {
		env.Now = s.now()
		return request.Apply(r, st, env)
	})
	if err != nil {
		return nil, err
	}
	if entry != 0 {
		if e, err := s.outbox.Deliver(ctx, tenant, entry); err != nil {
			if !errors.Is(err, ledgerout.ErrRefused) { // a refusal is logged and counted by the outbox
				s.log.Warn("ledger entry left to the outbox", "request", rec.Doc.GetName(), "err", err)
			}
		} else if e.Chain == pg.ChainCopy {
			if err := s.handOff.TrackCopy(ctx, tenant, receipt); err != nil && !errors.Is(err, errNoCopy) {
				s.log.Warn("copy tracking left to its job", "request", rec.Doc.GetName(), "err", err)
			}
		}
	}
	if rec.Doc.GetState() == requestsv1.RequestState_REQUEST_STATE_CLOSED {
		if err := s.handOff.RegisterClosed(ctx, tenant, receipt); err != nil {
			s.log.Warn("closed request's record left to its job for retention", "request", rec.Doc.GetName(), "err", err)
		}
	}
	if entry != 0 {
		if rec, err = s.store.Get(ctx, tenant, unit, receipt); err != nil {
			return nil, err
		}
	}
	return rec.View(s.now()), nil
}

// stepRequest is what every step's request has.
type stepRequest interface {
	proto.Message
	GetName() string
	GetEtag() string
	GetRequestId() string
}

func (s *Server) VerifyIdentity(ctx context.Context, req *requestsv1.VerifyIdentityRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Verify{Verification: req.GetVerification()})
}

func (s *Server) ApproveRequest(ctx context.Context, req *requestsv1.ApproveRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Approve{Grant: req.GetGrant()})
}

func (s *Server) PartiallyApproveRequest(ctx context.Context, req *requestsv1.PartiallyApproveRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.PartiallyApprove{Grant: req.GetGrant(), Reason: req.GetReason()})
}

func (s *Server) DeferRequest(ctx context.Context, req *requestsv1.DeferRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Defer{Reason: req.GetReason(), Etag: req.GetEtag()})
}

func (s *Server) ResumeRequest(ctx context.Context, req *requestsv1.ResumeRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Resume{ReasonEndDate: req.GetReasonEndDate()})
}

func (s *Server) RefuseRequest(ctx context.Context, req *requestsv1.RefuseRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Refuse{Reason: req.GetReason()})
}

func (s *Server) FulfillRequest(ctx context.Context, req *requestsv1.FulfillRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Fulfill{Note: req.GetNote(), CopyGiven: req.GetCopyGiven()})
}

func (s *Server) WithdrawRequest(ctx context.Context, req *requestsv1.WithdrawRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Withdraw{Note: req.GetNote()})
}

func (s *Server) CloseRequest(ctx context.Context, req *requestsv1.CloseRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req, request.Close{})
}
