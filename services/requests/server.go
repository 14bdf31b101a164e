package requests

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/clock"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// PublicMethods are callable without a token (and rate-limited).
var PublicMethods = map[string]bool{
	requestsv1.RequestService_SubmitRequest_FullMethodName:    true,
	requestsv1.RequestService_GetRequestStatus_FullMethodName: true,
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

// Server implements pipa.requests.v1.RequestService.
type Server struct {
	requestsv1.UnimplementedRequestServiceServer
	store    *pg.Store
	units    *unitauth.Units
	registry registryv1.RegistryServiceClient
	ledger   *Deliverer
	// token is the service's own credential, for the registry calls of public methods.
	token func() (string, error)
	cals  calendars
	now   func() time.Time
}

// New returns the service. ledger delivers the steps' entries; token is the service credential.
func New(store *pg.Store, registry registryv1.RegistryServiceClient, ledger *Deliverer, token func() (string, error)) (*Server, error) {
	return &Server{store: store, units: &unitauth.Units{Registry: registry}, registry: registry,
		ledger: ledger, token: token, cals: calendars{byID: map[string]cachedCalendar{}}, now: time.Now}, nil
}

func (s *Server) SubmitRequest(ctx context.Context, req *requestsv1.SubmitRequestRequest) (*requestsv1.SubmitRequestResponse, error) {
	if !validID(req.GetTenant()) || !validID(req.GetUnit()) {
		return nil, apierr.NotFound("tenants/" + req.GetTenant() + "/units/" + req.GetUnit())
	}
	r := proto.Clone(req.GetRequest()).(*requestsv1.Request)
	if r == nil {
		r = &requestsv1.Request{}
	}
	r.Channel = requestsv1.Channel_CHANNEL_ONLINE
	if r.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return nil, notProvision()
	}
	rctx, err := s.asService(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := s.create(ctx, rctx, req.GetTenant(), req.GetUnit(), r, req.GetRequestId(), req, time.Time{})
	if err != nil {
		return nil, err
	}
	return &requestsv1.SubmitRequestResponse{ReceiptNumber: rec.Doc.GetReceiptNumber(), StatusSecret: rec.Personal.Secret,
		DueDate: rec.Doc.GetDueDate(), ReceiveTime: rec.Doc.GetReceiveTime()}, nil
}

// notProvision refuses a provision request sent as a data subject's request.
func notProvision() error {
	return apierr.Invalid(apierr.Violation{Field: "request.type", Rule: "PIPA-18-2",
		Description: "another body's request for personal data is taken by CreateProvision (POST .../provisions)"})
}

func (s *Server) CreateRequest(ctx context.Context, req *requestsv1.CreateRequestRequest) (*requestsv1.CreateRequestResponse, error) {
	if req.GetRequest().GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return nil, notProvision()
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
	tenant, unit, err := parseUnit(parent)
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, staffRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	switch c := r.GetChannel(); {
	case c == 0 || requestsv1.Channel_name[int32(c)] == "":
		vs.Add("request.channel", "PIPA-38-4", "channel is required: VISIT, MAIL, FAX, EMAIL, PHONE, ONLINE or PIPC_TRANSFER")
	case c == requestsv1.Channel_CHANNEL_PIPC_TRANSFER && strings.TrimSpace(r.GetTransferReference()) == "":
		vs.Add("request.transfer_reference", "PIPA-35-2", "a request transferred by the PIPC carries its transfer reference")
	}
	receive := time.Time{}
	if t := receiveTime; t != nil && checkTime(&vs, "receive_time", t) {
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
	return &requestsv1.CreateRequestResponse{Request: rec.Request(), StatusSecret: rec.Personal.Secret}, nil
}

// create validates and stores a new request; rctx carries the credential for registry lookups.
func (s *Server) create(ctx, rctx context.Context, tenant, unit string, r *requestsv1.Request, requestID string, whole proto.Message, receive time.Time) (*pg.Record, error) {
	now := s.now()
	if receive.IsZero() {
		receive = now
	}
	receive = receive.UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it
	vs := validateIntake(r, now)
	if _, err := s.registry.GetUnit(rctx, &registryv1.GetUnitRequest{Name: "tenants/" + tenant + "/units/" + unit}); err != nil {
		return nil, err
	}
	if file := r.GetFile(); file != "" {
		if !strings.HasPrefix(file, "tenants/"+tenant+"/units/"+unit+"/files/") {
			vs.Add("request.file", "format", "must be a personal-information file of this unit: tenants/%s/units/%s/files/{file}", tenant, unit)
		} else if _, err := s.registry.GetFile(rctx, &registryv1.GetFileRequest{Name: file}); status.Code(err) == codes.NotFound {
			vs.Add("request.file", "PIPA-32", "no such personal-information file: %s", file)
		} else if err != nil {
			return nil, err
		}
	}
	field, f := "request.footage", r.GetFootage()
	if p := r.GetProvision(); p.GetFootage() != nil {
		field, f = "request.provision.footage", p.GetFootage()
	}
	if f != nil && f.GetSite() != "" {
		if !strings.HasPrefix(f.GetSite(), "tenants/"+tenant+"/units/"+unit+"/sites/") {
			vs.Add(field+".site", "STD-44-2", "must be a site of this unit: tenants/%s/units/%s/sites/{site}", tenant, unit)
		} else if site, err := s.registry.GetSite(rctx, &registryv1.GetSiteRequest{Name: f.GetSite()}); status.Code(err) == codes.NotFound {
			vs.Add(field+".site", "STD-44-2", "no such site: %s", f.GetSite())
		} else if err != nil {
			return nil, err
		} else {
			// STD-44-2: the camera's place, as the site publishes its locations.
			if locs := site.GetLocations(); len(locs) > 0 && !slices.Contains(locs, f.GetSiteLocation()) {
				vs.Add(field+".site_location", "STD-44-2", "name where the camera is, one of the site's locations: %s", strings.Join(locs, ", "))
			}
			if r.GetType() == requestsv1.RequestType_REQUEST_TYPE_SUSPENSION && publicCameras(site) {
				vs.Add("request.type", "PIPA-58-2", "suspension of processing (처리정지) does not apply to fixed CCTV in public places; ask for access, an existence check or deletion instead")
			}
		}
	}
	if g, ok := provisionGrounds[r.GetProvision().GetGround()]; ok && g.publicOnly {
		t, err := s.tenant(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if !t.public {
			vs.Add("request.provision.ground", "PIPA-18-2", "grounds 5 to 9 of PIPA 18(2) are for public institutions only, and %s is not one", t.displayName)
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	var due time.Time
	if days := typeRules[r.GetType()].days; days > 0 {
		var err error
		if due, err = s.due(ctx, tenant, func(c *clock.Calendar) (time.Time, error) { return c.Due(receive, days) }); err != nil {
			return nil, err
		}
	}
	hash, err := idempotency.RequestHash(whole)
	if err != nil {
		return nil, err
	}
	method, prefix := requestsv1.RequestService_CreateRequest_FullMethodName, "R"
	switch whole.(type) {
	case *requestsv1.SubmitRequestRequest:
		method = requestsv1.RequestService_SubmitRequest_FullMethodName
	case *requestsv1.CreateProvisionRequest:
		method, prefix = requestsv1.RequestService_CreateProvision_FullMethodName, "P"
	}
	rec, err := s.store.Create(ctx, tenant, unit, prefix, receive, pg.Idem{RequestID: requestID, Method: method, Hash: hash},
		func(receipt string) (*pg.Record, error) {
			secret, err := newSecret()
			if err != nil {
				return nil, err
			}
			doc := proto.Clone(r).(*requestsv1.Request)
			personal := pg.Personal{Requester: doc.Requester, Subject: doc.Subject, Secret: secret}
			// Output-only fields are the server's.
			doc.Requester, doc.Subject = nil, nil
			doc.State = requestsv1.RequestState_REQUEST_STATE_RECEIVED
			doc.Verification, doc.Grant, doc.Reason, doc.Notices, doc.Ledger = nil, nil, nil, nil, nil
			doc.Extensions, doc.Overdue, doc.CloseTime, doc.Etag, doc.PublicationDueDate = 0, false, nil, "", ""
			setDue(doc, due)
			return &pg.Record{Doc: doc, Personal: personal}, nil
		})
	return rec, err
}

// publicCameras: a site with cameras in public places, or with no split given (PIPA-58-2).
func publicCameras(site *registryv1.Site) bool {
	return site.PublicCameraCount == nil || site.GetPublicCameraCount() > 0
}

func setDue(r *requestsv1.Request, due time.Time) {
	if due.IsZero() {
		r.DueTime, r.DueDate = nil, ""
		return
	}
	r.DueTime, r.DueDate = timestamppb.New(due), seoul.Date(due)
}

// newSecret is 80 random bits, in base32 a requester can type: the status page's only key.
func newSecret() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base32.StdEncoding.EncodeToString(b), nil
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
		if u, err := s.registry.GetUnit(rctx, &registryv1.GetUnitRequest{Name: "tenants/" + rec.Tenant + "/units/" + rec.Unit}); err == nil {
			st.UnitDisplayName = u.GetFullName()
		}
	}
	notices, err := s.store.Notices(ctx, rec.Tenant, rec.Doc.GetReceiptNumber())
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		st.Notices = append(st.Notices, n.GetKind())
	}
	return st, nil
}

func (s *Server) GetRequest(ctx context.Context, req *requestsv1.GetRequestRequest) (*requestsv1.Request, error) {
	tenant, unit, receipt, err := s.authorizeRequest(ctx, req.GetName(), readRoles)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.Get(ctx, tenant, unit, receipt)
	if err != nil {
		return nil, err
	}
	return s.view(rec), nil
}

// view is the request as served: with its personal fields, and overdue as of now.
func (s *Server) view(rec *pg.Record) *requestsv1.Request {
	r := rec.Request()
	undecided := r.State == requestsv1.RequestState_REQUEST_STATE_RECEIVED || r.State == requestsv1.RequestState_REQUEST_STATE_VERIFIED
	r.Overdue = undecided && r.DueTime != nil && clock.Classify(r.DueTime.AsTime(), s.now()) == clock.Overdue
	return r
}

func (s *Server) ListRequests(ctx context.Context, req *requestsv1.ListRequestsRequest) (*requestsv1.ListRequestsResponse, error) {
	tenant, unit, err := parseUnit(req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, readRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	checkDate(&vs, "due_before", req.GetDueBefore(), farFuture)
	if requestsv1.RequestState_name[int32(req.GetState())] == "" {
		vs.Add("state", "range", "unknown state %d", req.GetState())
	}
	if requestsv1.RequestType_name[int32(req.GetType())] == "" {
		vs.Add("type", "range", "unknown type %d", req.GetType())
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		vs.Add("page_size", "range", "must not be negative")
	case size == 0:
		size = 50
	case size > 500:
		size = 500
	}
	if t := req.GetPageToken(); t != "" && !receiptPattern.MatchString(t) {
		vs.Add("page_token", "format", "not a page token of this list")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	page, err := s.store.List(ctx, tenant, unit, pg.Filter{State: req.GetState(), Type: req.GetType(),
		Overdue: req.GetOverdue(), DueBefore: req.GetDueBefore(), Today: seoul.Date(s.now())},
		size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &requestsv1.ListRequestsResponse{NextPageToken: page.Next, OverdueCount: page.Overdue, DueSoonCount: page.DueSoon}
	for _, rec := range page.Records {
		out.Requests = append(out.Requests, s.view(rec))
	}
	return out, nil
}

func (s *Server) ListNotices(ctx context.Context, req *requestsv1.ListNoticesRequest) (*requestsv1.ListNoticesResponse, error) {
	tenant, unit, receipt, err := s.authorizeRequest(ctx, req.GetParent(), readRoles)
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
	i := strings.LastIndex(req.GetName(), "/notices/")
	if i < 0 {
		return nil, apierr.Invalid(apierr.Violation{Field: "name", Rule: "format",
			Description: "must be tenants/{t}/units/{u}/requests/{r}/notices/{n}"})
	}
	list, err := s.ListNotices(ctx, &requestsv1.ListNoticesRequest{Parent: req.GetName()[:i]})
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

func (s *Server) authorizeRequest(ctx context.Context, name string, roles []auth.Role) (tenant, unit, receipt string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "tenants" || parts[2] != "units" || parts[4] != "requests" ||
		!validID(parts[1]) || !validID(parts[3]) || !receiptPattern.MatchString(parts[5]) {
		return "", "", "", apierr.Invalid(apierr.Violation{Field: "name", Rule: "format",
			Description: "must be tenants/{t}/units/{u}/requests/{receipt}"})
	}
	if err := s.units.Authorize(ctx, parts[1], parts[3], roles); err != nil {
		return "", "", "", err
	}
	return parts[1], parts[3], parts[5], nil
}

func parseUnit(parent string) (tenant, unit string, err error) {
	parts := strings.Split(parent, "/")
	if len(parts) != 4 || parts[0] != "tenants" || parts[2] != "units" || !validID(parts[1]) || !validID(parts[3]) {
		return "", "", apierr.Invalid(apierr.Violation{Field: "parent", Rule: "format",
			Description: "must be tenants/{tenant}/units/{unit}"})
	}
	return parts[1], parts[3], nil
}

// ErasePersonalData is the retention service's: only a pipa service (role service on "*") erases.
func (s *Server) ErasePersonalData(ctx context.Context, req *requestsv1.ErasePersonalDataRequest) (*requestsv1.Request, error) {
	if p, _ := auth.FromContext(ctx); !p.IsService() {
		return nil, apierr.Denied("personal data of requests are erased by the retention service (PIPA-21-1)")
	}
	tenant, unit, receipt, err := s.authorizeRequest(ctx, req.GetName(), []auth.Role{auth.RoleService})
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	checkText(&vs, "reason", req.GetReason(), true)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	rec, err := s.store.Erase(ctx, tenant, unit, receipt, func(rec *pg.Record) error {
		if rec.Doc.GetState() != requestsv1.RequestState_REQUEST_STATE_CLOSED {
			return apierr.Precondition("NOT_CLOSED", "only a closed request's personal data are erased at the end of retention")
		}
		// Free text a requester or officer wrote may name people.
		rec.Doc.Details = ""
		if v := rec.Doc.GetVerification(); v != nil {
			v.Note, v.AgencyEvidence = "", ""
		}
		if g := rec.Doc.GetGrant(); g != nil {
			g.Content = ""
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.view(rec), nil
}
