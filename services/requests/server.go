package requests

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// PublicMethods are callable without a token (and rate-limited).
var PublicMethods = map[string]bool{
	requestsv1.RequestService_SubmitRequest_FullMethodName:     true,
	requestsv1.RequestService_GetRequestStatus_FullMethodName:  true,
	requestsv1.BreachService_GetBreachPosting_FullMethodName:   true,
	requestsv1.BreachService_ListBreachPostings_FullMethodName: true,
}

// AccessRules are the service's reads of personal data (requesters and data subjects), recorded
// in the unit's ledger as ACCESS entries (S-2-3).
var AccessRules = accesslog.Rules{
	requestsv1.RequestService_GetRequest_FullMethodName:   accesslog.ByName((*requestsv1.GetRequestRequest).GetName, ""),
	requestsv1.RequestService_ListRequests_FullMethodName: accesslog.ByName((*requestsv1.ListRequestsRequest).GetParent, "/requests"),
	requestsv1.RequestService_ListNotices_FullMethodName:  accesslog.ByName((*requestsv1.ListNoticesRequest).GetParent, "/notices"),
	requestsv1.RequestService_GetNotice_FullMethodName:    accesslog.ByName((*requestsv1.GetNoticeRequest).GetName, ""),
	// Staff intake and every step answer with the request, personal fields included.
	requestsv1.RequestService_CreateRequest_FullMethodName:           accesslog.ByName((*requestsv1.CreateRequestRequest).GetParent, "/requests"),
	requestsv1.RequestService_CreateProvision_FullMethodName:         accesslog.ByName((*requestsv1.CreateProvisionRequest).GetParent, "/requests"),
	requestsv1.RequestService_VerifyIdentity_FullMethodName:          accesslog.ByName((*requestsv1.VerifyIdentityRequest).GetName, ""),
	requestsv1.RequestService_ApproveRequest_FullMethodName:          accesslog.ByName((*requestsv1.ApproveRequestRequest).GetName, ""),
	requestsv1.RequestService_PartiallyApproveRequest_FullMethodName: accesslog.ByName((*requestsv1.PartiallyApproveRequestRequest).GetName, ""),
	requestsv1.RequestService_DeferRequest_FullMethodName:            accesslog.ByName((*requestsv1.DeferRequestRequest).GetName, ""),
	requestsv1.RequestService_ResumeRequest_FullMethodName:           accesslog.ByName((*requestsv1.ResumeRequestRequest).GetName, ""),
	requestsv1.RequestService_RefuseRequest_FullMethodName:           accesslog.ByName((*requestsv1.RefuseRequestRequest).GetName, ""),
	requestsv1.RequestService_FulfillRequest_FullMethodName:          accesslog.ByName((*requestsv1.FulfillRequestRequest).GetName, ""),
	requestsv1.RequestService_WithdrawRequest_FullMethodName:         accesslog.ByName((*requestsv1.WithdrawRequestRequest).GetName, ""),
	requestsv1.RequestService_CloseRequest_FullMethodName:            accesslog.ByName((*requestsv1.CloseRequestRequest).GetName, ""),
}

var (
	staffRoles = []auth.Role{auth.RoleHandler, auth.RoleManager, auth.RoleCPO}
	readRoles  = []auth.Role{auth.RoleHandler, auth.RoleManager, auth.RoleCPO, auth.RoleAuditor}
)

// Server implements pipa.requests.v1.RequestService. Its handlers parse and authorize, ask the
// domain (package request) to decide, have the store write what it decided, and answer.
type Server struct {
	requestsv1.UnimplementedRequestServiceServer
	store    *pg.Store
	outbox   *ledgerout.Outbox
	handOff  *HandOff
	out      *OutboundServer
	units    *unitauth.Units
	registry registryv1.RegistryServiceClient
	// token is the service's own credential, for the registry calls of public methods.
	token func() (string, error)
	cals  calendars
	now   func() time.Time
	// breachClock is the breaches' clock, as Breaches was given it.
	breachClock func() time.Time
	log         *slog.Logger
}

// New returns the service: outbox appends the steps' entries, handOff hands work to the
// retention service, token is the service credential.
func New(store *pg.Store, outbox *ledgerout.Outbox, handOff *HandOff, registry registryv1.RegistryServiceClient, token func() (string, error)) *Server {
	return &Server{store: store, outbox: outbox, handOff: handOff, units: &unitauth.Units{Registry: registry}, registry: registry,
		token: token, cals: calendars{byID: map[string]cachedTenant{}}, now: time.Now, log: slog.Default()}
}

func (s *Server) SubmitRequest(ctx context.Context, req *requestsv1.SubmitRequestRequest) (*requestsv1.SubmitRequestResponse, error) {
	if !names.ValidID(req.GetTenant()) || !names.ValidID(req.GetUnit()) {
		return nil, apierr.NotFound(names.Unit(req.GetTenant(), req.GetUnit()))
	}
	r := proto.Clone(req.GetRequest()).(*requestsv1.Request)
	if r == nil {
		r = &requestsv1.Request{}
	}
	r.Channel = requestsv1.Channel_CHANNEL_ONLINE
	if r.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return nil, request.NotProvision()
	}
	rctx, err := s.asService(ctx)
	if err != nil {
		return nil, err
	}
	// Staff intake's authorization has found the unit; a public submission asks the registry.
	if _, err := s.registry.GetUnit(rctx, &registryv1.GetUnitRequest{Name: names.Unit(req.GetTenant(), req.GetUnit())}); err != nil {
		return nil, err
	}
	rec, err := s.create(ctx, rctx, req.GetTenant(), req.GetUnit(), r, req.GetRequestId(), req, time.Time{})
	if err != nil {
		return nil, err
	}
	return &requestsv1.SubmitRequestResponse{ReceiptNumber: rec.Doc.GetReceiptNumber(), StatusSecret: rec.Personal.Secret,
		DueDate: rec.Doc.GetDueDate(), ReceiveTime: rec.Doc.GetReceiveTime()}, nil
}

func (s *Server) CreateRequest(ctx context.Context, req *requestsv1.CreateRequestRequest) (*requestsv1.CreateRequestResponse, error) {
	if req.GetRequest().GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return nil, request.NotProvision()
	}
	return s.intake(ctx, req.GetParent(), req.GetRequest(), req.GetRequestId(), req, req.GetReceiveTime())
}

func (s *Server) CreateProvision(ctx context.Context, req *requestsv1.CreateProvisionRequest) (*requestsv1.CreateRequestResponse, error) {
	r := proto.Clone(req.GetRequest()).(*requestsv1.Request)
	if r == nil {
		r = &requestsv1.Request{}
	}
	r.Type = requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION
	return s.intake(ctx, req.GetParent(), r, req.GetRequestId(), req, req.GetReceiveTime())
}

// intake is staff intake of a request received by visit, mail, fax, e-mail or PIPC transfer.
func (s *Server) intake(ctx context.Context, parent string, r *requestsv1.Request, requestID string, whole proto.Message, receiveTime *timestamppb.Timestamp) (*requestsv1.CreateRequestResponse, error) {
	tenant, unit, err := names.ParseUnit("parent", parent)
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, staffRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	request.CheckChannel(&vs, r)
	receive := time.Time{}
	if t := receiveTime; t != nil && request.CheckTime(&vs, "receive_time", t) {
		receive = t.AsTime()
		if receive.After(s.now()) {
			vs.Add("receive_time", "range", "must not be in the future")
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	rec, err := s.create(ctx, unitauth.ForwardToken(ctx), tenant, unit, r, requestID, whole, receive)
	if err != nil {
		return nil, err
	}
	return &requestsv1.CreateRequestResponse{Request: rec.Full(), StatusSecret: rec.Personal.Secret}, nil
}

// create takes a new request to an existing unit (the caller has checked it: staff intake's
// authorization asks the registry for the unit once and remembers it, a public submission asks it
// each time): the domain checks it with what the registry knows (rctx carries the credential for
// that), and the store files it under a receipt number.
func (s *Server) create(ctx, rctx context.Context, tenant, unit string, r *requestsv1.Request, requestID string, whole proto.Message, receive time.Time) (*request.Request, error) {
	now := s.now()
	if receive.IsZero() {
		receive = now
	}
	receive = receive.UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it
	t, err := s.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	draft, err := request.Intake(rctx, directory{s.registry}, t, tenant, unit, r, now, receive)
	if err != nil {
		return nil, err
	}
	hash, err := idempotency.RequestHash(whole)
	if err != nil {
		return nil, err
	}
	method := requestsv1.RequestService_CreateRequest_FullMethodName
	switch whole.(type) {
	case *requestsv1.SubmitRequestRequest:
		method = requestsv1.RequestService_SubmitRequest_FullMethodName
	case *requestsv1.CreateProvisionRequest:
		method = requestsv1.RequestService_CreateProvision_FullMethodName
	}
	return s.store.Create(ctx, draft, request.ReceiptPrefix(r.GetType()), receive, pg.Idem{RequestID: requestID, Method: method, Hash: hash})
}

// directory answers the domain's questions to the registry (request.Directory).
type directory struct {
	registry registryv1.RegistryServiceClient
}

func (d directory) Site(ctx context.Context, name string) (*registryv1.Site, error) {
	site, err := d.registry.GetSite(ctx, &registryv1.GetSiteRequest{Name: name})
	if apierr.CodeOf(err) == codes.NotFound {
		return nil, apierr.NotFound(name)
	}
	return site, err
}

func (d directory) FileExists(ctx context.Context, name string) (bool, error) {
	_, err := d.registry.GetFile(ctx, &registryv1.GetFileRequest{Name: name})
	if apierr.CodeOf(err) == codes.NotFound {
		return false, nil
	}
	return err == nil, err
}

func (s *Server) asService(ctx context.Context) (context.Context, error) {
	return unitauth.AsService(ctx, s.token)
}

func (s *Server) GetRequestStatus(ctx context.Context, req *requestsv1.GetRequestStatusRequest) (*requestsv1.RequestStatus, error) {
	var vs apierr.Violations
	if req.GetReceipt() == "" || len(req.GetReceipt()) > 32 {
		vs.Add("receipt", "required", "the receipt number, e.g. R-2026-000123")
	}
	if req.GetSecret() == "" || len(req.GetSecret()) > 64 {
		vs.Add("secret", "required", "the status secret given with the receipt")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	rec, err := s.store.Status(ctx, req.GetReceipt(), strings.ToUpper(strings.TrimSpace(req.GetSecret())))
	if err != nil {
		return nil, err
	}
	st := &requestsv1.RequestStatus{ReceiptNumber: rec.Doc.GetReceiptNumber(), Type: rec.Doc.GetType(),
		State: rec.Doc.GetState(), ReceiveTime: rec.Doc.GetReceiveTime(), DueDate: rec.Doc.GetDueDate()}
	if rctx, err := s.asService(ctx); err == nil {
		if u, err := s.registry.GetUnit(rctx, &registryv1.GetUnitRequest{Name: names.Unit(rec.Tenant, rec.Unit)}); err == nil {
			st.UnitDisplayName = u.GetFullName()
		}
	}
	notices, err := s.store.Notices(ctx, rec.Tenant, rec.Doc.GetReceiptNumber())
	if err != nil {
		return nil, err
	}
	mailed, err := s.out.mailStates(ctx, rec.Tenant, rec.Doc.GetName())
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		st.Notices = append(st.Notices, n.GetKind())
		st.IssuedNotices = append(st.IssuedNotices, &requestsv1.IssuedNotice{Kind: n.GetKind(), IssueTime: n.GetIssueTime(),
			MailState: mailed[n.GetName()]})
	}
	return st, nil
}

func (s *Server) GetRequest(ctx context.Context, req *requestsv1.GetRequestRequest) (*requestsv1.Request, error) {
	tenant, unit, receipt, err := s.authorizeRequest(ctx, "name", req.GetName(), readRoles)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.Get(ctx, tenant, unit, receipt)
	if err != nil {
		return nil, err
	}
	return rec.View(s.now()), nil
}

func (s *Server) ListRequests(ctx context.Context, req *requestsv1.ListRequestsRequest) (*requestsv1.ListRequestsResponse, error) {
	tenant, unit, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, readRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	request.CheckDate(&vs, "due_before", req.GetDueBefore(), request.FarFuture)
	if requestsv1.RequestState_name[int32(req.GetState())] == "" {
		vs.Add("state", "range", "unknown state %d", req.GetState())
	}
	if requestsv1.RequestType_name[int32(req.GetType())] == "" {
		vs.Add("type", "range", "unknown type %d", req.GetType())
	}
	size := names.PageSize(&vs, req.GetPageSize())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	query := names.Query{"requests.requests", req.GetParent(), req.GetState().String(), req.GetType().String(),
		strconv.FormatBool(req.GetOverdue()), req.GetDueBefore()}
	after, err := query.Parse(req.GetPageToken(), 1)
	if err != nil {
		return nil, err
	}
	page, err := s.store.List(ctx, tenant, unit, pg.Filter{State: req.GetState(), Type: req.GetType(),
		Overdue: req.GetOverdue(), DueBefore: req.GetDueBefore(), Today: seoul.Date(s.now())},
		size, strings.Join(after, ""))
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &requestsv1.ListRequestsResponse{NextPageToken: query.Token(page.Next), OverdueCount: page.Overdue, DueSoonCount: page.DueSoon}
	for _, rec := range page.Records {
		out.Requests = append(out.Requests, rec.View(now))
	}
	return out, nil
}

func (s *Server) ListNotices(ctx context.Context, req *requestsv1.ListNoticesRequest) (*requestsv1.ListNoticesResponse, error) {
	tenant, unit, receipt, err := s.authorizeRequest(ctx, "parent", req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Get(ctx, tenant, unit, receipt); err != nil {
		return nil, err
	}
	notices, err := s.store.Notices(ctx, tenant, receipt)
	return &requestsv1.ListNoticesResponse{Notices: notices}, err
}

func (s *Server) GetNotice(ctx context.Context, req *requestsv1.GetNoticeRequest) (*requestsv1.Notice, error) {
	request, _, _, _, _, err := names.ParseNotice("name", req.GetName())
	if err != nil {
		return nil, err
	}
	list, err := s.ListNotices(ctx, &requestsv1.ListNoticesRequest{Parent: request})
	if err != nil {
		return nil, err
	}
	for _, n := range list.GetNotices() {
		if n.GetName() == req.GetName() {
			return n, nil
		}
	}
	return nil, apierr.NotFound(req.GetName())
}

func (s *Server) authorizeRequest(ctx context.Context, field, name string, roles []auth.Role) (tenant, unit, receipt string, err error) {
	if tenant, unit, receipt, err = names.Requests.Parse(field, name); err != nil {
		return "", "", "", err
	}
	return tenant, unit, receipt, s.units.Authorize(ctx, tenant, unit, roles)
}

// ErasePersonalData is the retention service's: only a pipa service (role service on "*") erases.
// A retry with the same request_id answers the request as it stands (pg.Store.Erase).
func (s *Server) ErasePersonalData(ctx context.Context, req *requestsv1.ErasePersonalDataRequest) (*requestsv1.Request, error) {
	if p, _ := auth.FromContext(ctx); !p.IsService() {
		return nil, apierr.Denied("personal data of requests are erased by the retention service (PIPA-21-1)")
	}
	tenant, unit, receipt, err := s.authorizeRequest(ctx, "name", req.GetName(), []auth.Role{auth.RoleService})
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	request.CheckText(&vs, "reason", req.GetReason(), true)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.Erase(ctx, tenant, unit, receipt, idem, request.Erase)
	if err != nil {
		return nil, err
	}
	return rec.View(s.now()), nil
}
