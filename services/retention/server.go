package retention

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// Roles (ARCHITECTURE "Identity and tenancy"): everyone with a role on the unit reads (pipa's
// services too, e.g. the request service finding a unit's rule for closed requests); the
// managers and the CPO set rules, holds and sweeps; handlers also register what they keep and
// record copy outcomes; the service role (a recording system, or the request service on "*")
// registers items and confirms deletions; only the CPO approves and completes a destruction plan
// (STD-55, STD-10-4); copies come from the request service or staff.
var (
	readRoles  = []auth.Role{auth.RoleHandler, auth.RoleManager, auth.RoleCPO, auth.RoleAuditor, auth.RoleService}
	writeRoles = []auth.Role{auth.RoleManager, auth.RoleCPO}
	staffRoles = []auth.Role{auth.RoleHandler, auth.RoleManager, auth.RoleCPO}
	itemRoles  = []auth.Role{auth.RoleHandler, auth.RoleManager, auth.RoleCPO, auth.RoleService}
	copyRoles  = []auth.Role{auth.RoleManager, auth.RoleCPO, auth.RoleService}
	cpoRoles   = []auth.Role{auth.RoleCPO}
)

// PublicMethods are callable without a token (rate-limited as public): the certificates'
// verifier key, as the ledger serves its own (ledger.PublicMethods).
var PublicMethods = map[string]bool{retentionv1.RetentionService_GetCertificateKey_FullMethodName: true}

// defaultBatch is how many items a sweeper claims, destroys and records per transaction.
const defaultBatch = 1000

// Server implements pipa.retention.v1.RetentionService.
type Server struct {
	retentionv1.UnimplementedRetentionServiceServer
	store    *pg.Store
	outbox   *ledgerout.Outbox
	lookups  lookups
	units    *unitauth.Units
	registry registryv1.RegistryServiceClient
	ledger   ledgerv1.LedgerServiceClient
	requests requestsv1.RequestServiceClient
	// token is the service's own credential, for background work.
	token func() (string, error)
	now   func() time.Time
	batch int
	// sweepBudget is how long a sweep job destroys before it leaves the rest to its next attempt.
	sweepBudget time.Duration
	log         *slog.Logger
}

// New returns the service over store and its ledger outbox; token is the service credential, now
// its clock.
func New(store *pg.Store, outbox *ledgerout.Outbox, registry registryv1.RegistryServiceClient, ledger ledgerv1.LedgerServiceClient,
	requests requestsv1.RequestServiceClient, token func() (string, error), now func() time.Time) *Server {
	return &Server{store: store, outbox: outbox, lookups: lookups{registry: registry, ledger: ledger, requests: requests},
		units: &unitauth.Units{Registry: registry}, registry: registry, ledger: ledger,
		requests: requests, token: token, now: now, batch: defaultBatch,
		sweepBudget: jobs.Timeout / 2, log: slog.Default()}
}

// asService returns ctx carrying the service credential on outgoing calls.
func (s *Server) asService(ctx context.Context) (context.Context, error) {
	return unitauth.AsService(ctx, s.token)
}

// authorizedUnit parses a parent unit's name and checks the caller's roles on it.
func (s *Server) authorizedUnit(ctx context.Context, parent string, roles []auth.Role) (tenant, unit string, err error) {
	if tenant, unit, err = names.ParseUnit("parent", parent); err != nil {
		return "", "", err
	}
	return tenant, unit, s.units.Authorize(ctx, tenant, unit, roles)
}

// authorized parses a rule's name and checks the caller's roles on its unit.
func (s *Server) authorized(ctx context.Context, name string, roles []auth.Role) (tenant, unit, id string, err error) {
	if tenant, unit, id, err = names.Rules.Parse("name", name); err != nil {
		return "", "", "", err
	}
	return tenant, unit, id, s.units.Authorize(ctx, tenant, unit, roles)
}

// authorizedN parses the name of a member of a numbered collection and checks the caller's roles
// on its unit.
func (s *Server) authorizedN(ctx context.Context, name string, c names.Collection, roles []auth.Role) (tenant, unit string, id int64, err error) {
	if tenant, unit, id, err = c.ParseN("name", name); err != nil {
		return "", "", 0, err
	}
	return tenant, unit, id, s.units.Authorize(ctx, tenant, unit, roles)
}

func idem(requestID, method string, req proto.Message) (pg.Idem, error) {
	hash, err := idempotency.RequestHash(req)
	return pg.Idem{RequestID: requestID, Method: method, Hash: hash}, err
}

func (s *Server) CreateRule(ctx context.Context, req *retentionv1.CreateRuleRequest) (*retentionv1.Rule, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), writeRoles)
	if err != nil {
		return nil, err
	}
	r := proto.CloneOf(req.GetRule())
	if r == nil {
		r = &retentionv1.Rule{}
	}
	r.Name, r.Etag, r.CreateTime, r.UpdateTime = "", "", nil, nil
	var vs apierr.Violations
	if id := req.GetRuleId(); id != "" {
		names.CheckID(&vs, "rule_id", id)
	}
	if len(req.GetRequestId()) > 128 {
		vs.Add("request_id", "range", "must be at most 128 characters")
	}
	lifecycle.ValidateRule(&vs, r)
	if err := lifecycle.CheckResource(unitauth.ForwardToken(ctx), s.lookups, &vs, tenant, unit, r); err != nil {
		return nil, err
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_CreateRule_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	rule, err := s.store.CreateRule(ctx, tenant, unit, req.GetRuleId(), key, r)
	if err != nil {
		return nil, err
	}
	return rule.Doc, nil
}

func (s *Server) GetRule(ctx context.Context, req *retentionv1.GetRuleRequest) (*retentionv1.Rule, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetName(), readRoles)
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetRule(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return r.Doc, nil
}

func (s *Server) ListRules(ctx context.Context, req *retentionv1.ListRulesRequest) (*retentionv1.ListRulesResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.rules", req.GetParent()}
	after, err := query.Parse(req.GetPageToken(), 1)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	rules, next, err := s.store.ListRules(ctx, tenant, unit, size, strings.Join(after, ""))
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListRulesResponse{NextPageToken: query.Token(next)}
	for _, r := range rules {
		out.Rules = append(out.Rules, r.Doc)
	}
	return out, nil
}

func (s *Server) UpdateRule(ctx context.Context, req *retentionv1.UpdateRuleRequest) (*retentionv1.Rule, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetRule().GetName(), writeRoles)
	if err != nil {
		return nil, err
	}
	mask, err := lifecycle.NewRuleMask(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	in := req.GetRule()
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_UpdateRule_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	rule, err := s.store.UpdateRule(ctx, tenant, unit, id, in.GetEtag(), key, func(r *retentionv1.Rule) error { return mask.Update(r, in) })
	if err != nil {
		return nil, err
	}
	return rule.Doc, nil
}

func (s *Server) DeleteRule(ctx context.Context, req *retentionv1.DeleteRuleRequest) (*retentionv1.Rule, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetName(), writeRoles)
	if err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_DeleteRule_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	r, err := s.store.DeleteRule(ctx, tenant, unit, id, req.GetEtag(), key)
	if err != nil {
		return nil, err
	}
	return r.Doc, nil
}

func (s *Server) CreateHold(ctx context.Context, req *retentionv1.CreateHoldRequest) (*retentionv1.Hold, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), writeRoles)
	if err != nil {
		return nil, err
	}
	h := proto.CloneOf(req.GetHold())
	if h == nil {
		h = &retentionv1.Hold{}
	}
	h.CreatedBy = auth.Officer(ctx)
	var vs apierr.Violations
	scope, start, end, err := lifecycle.HoldScope(unitauth.ForwardToken(ctx), s.lookups, s.lookups, &vs, tenant, unit, h)
	if err != nil {
		return nil, err
	}
	lifecycle.ValidateHold(&vs, h, s.now())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_CreateHold_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateHold(ctx, tenant, unit, key, h, scope, start, end)
	if err != nil {
		return nil, err
	}
	return out.Doc, nil
}

func (s *Server) GetHold(ctx context.Context, req *retentionv1.GetHoldRequest) (*retentionv1.Hold, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Holds, readRoles)
	if err != nil {
		return nil, err
	}
	h, err := s.store.GetHold(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return h.Doc, nil
}

func (s *Server) ListHolds(ctx context.Context, req *retentionv1.ListHoldsRequest) (*retentionv1.ListHoldsResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.holds", req.GetParent(), strconv.FormatBool(req.GetShowReleased())}
	after, terr := query.ParseN(req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	holds, next, err := s.store.ListHolds(ctx, tenant, unit, req.GetShowReleased(), size, after)
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListHoldsResponse{NextPageToken: query.TokenN(next)}
	for _, h := range holds {
		out.Holds = append(out.Holds, h.Doc)
	}
	return out, nil
}

func (s *Server) ReleaseHold(ctx context.Context, req *retentionv1.ReleaseHoldRequest) (*retentionv1.Hold, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Holds, writeRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	lifecycle.CheckText(&vs, "reason", req.GetReason(), true)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_ReleaseHold_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	h, err := s.store.ReleaseHold(ctx, tenant, unit, id, key, auth.Officer(ctx), req.GetReason())
	if err != nil {
		return nil, err
	}
	return h.Doc, nil
}

func (s *Server) CreateItem(ctx context.Context, req *retentionv1.CreateItemRequest) (*retentionv1.Item, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), itemRoles)
	if err != nil {
		return nil, err
	}
	in := req.GetItem()
	var vs apierr.Violations
	ruleID, ok := names.Rules.Of(tenant, unit, in.GetRule())
	if !ok {
		return nil, apierr.Invalid(apierr.Violation{Field: "item.rule", Rule: "format",
			Description: "must be a rule of this unit: " + names.Unit(tenant, unit) + "/rules/{rule}"})
	}
	rule, err := s.store.GetRule(ctx, tenant, unit, ruleID)
	if apierr.CodeOf(err) == codes.NotFound {
		return nil, apierr.Invalid(apierr.Violation{Field: "item.rule", Rule: "exists", Description: "no such rule: " + in.GetRule()})
	}
	if err != nil {
		return nil, err
	}
	p, _ := auth.FromContext(ctx)
	n, err := lifecycle.NewItemOf(unitauth.ForwardToken(ctx), s.lookups, s.lookups, &vs, tenant, unit, rule, in,
		lifecycle.Registration{ByService: p.IsService(), Now: s.now()})
	if err != nil {
		return nil, err
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_CreateItem_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	it, err := s.store.CreateItem(ctx, tenant, unit, key, n)
	if err != nil {
		return nil, err
	}
	return lifecycle.ItemView(it, s.now()), nil
}

func (s *Server) GetItem(ctx context.Context, req *retentionv1.GetItemRequest) (*retentionv1.Item, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Items, readRoles)
	if err != nil {
		return nil, err
	}
	it, err := s.store.GetItem(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return lifecycle.ItemView(it, s.now()), nil
}

func (s *Server) ListItems(ctx context.Context, req *retentionv1.ListItemsRequest) (*retentionv1.ListItemsResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if _, ok := pg.ItemFilters[req.GetState()]; !ok {
		vs.Add("state", "format", "one of retained, due, held, overdue, planned, destroyed (or empty for all)")
	}
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.items", req.GetParent(), req.GetState()}
	after, terr := query.ParseN(req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	now := s.now()
	items, next, err := s.store.ListItems(ctx, tenant, unit, req.GetState(), now, size, after)
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListItemsResponse{NextPageToken: query.TokenN(next)}
	for _, it := range items {
		out.Items = append(out.Items, lifecycle.ItemView(it, now))
	}
	return out, nil
}

func (s *Server) ConfirmDeletion(ctx context.Context, req *retentionv1.ConfirmDeletionRequest) (*retentionv1.Item, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Items, itemRoles)
	if err != nil {
		return nil, err
	}
	now := s.now()
	deleted, err := lifecycle.DeletionTime(req.GetDeletionTime(), now)
	if err != nil {
		return nil, err
	}
	it, err := s.store.GetItem(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	rule, err := s.store.Rule(ctx, tenant, unit, it.RuleID)
	if err != nil {
		return nil, err
	}
	if err := lifecycle.CheckAutoDelete(rule); err != nil {
		return nil, err
	}
	sctx, err := s.asService(ctx)
	if err != nil {
		return nil, err
	}
	site, err := s.ruleSite(sctx, rule)
	if err != nil {
		return nil, err
	}
	handler, err := s.autoDeleteHandler(sctx, rule, site, func() (string, error) { return s.departmentHead(sctx, tenant, unit) })
	if err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_ConfirmDeletion_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	outbox, err := s.store.ConfirmDeletion(ctx, tenant, unit, id, key, func(it *lifecycle.Item) error {
		return lifecycle.CheckConfirmation(it, deleted, now)
	}, func(it *lifecycle.Item) *ledgerv1.AppendEntryRequest {
		return lifecycle.ConfirmedDeletion(rule, it, handler, deleted, now)
	})
	if err != nil {
		return nil, err
	}
	if outbox != 0 {
		if err := s.deliver(unitauth.ForwardToken(ctx), tenant, outbox); isRefused(err) {
			return nil, err
		} else if err != nil {
			s.log.Warn("ledger entry left to the outbox", "item", req.GetName(), "err", err)
		}
	}
	if it, err = s.store.GetItem(ctx, tenant, unit, id); err != nil {
		return nil, err
	}
	return lifecycle.ItemView(it, now), nil
}

// GetCertificateKey is public: it serves only a key that exists, so anonymous callers create
// nothing.
func (s *Server) GetCertificateKey(ctx context.Context, req *retentionv1.GetCertificateKeyRequest) (*retentionv1.CertificateKey, error) {
	if !names.ValidID(req.GetTenant()) {
		return nil, apierr.Invalid(apierr.Violation{Field: "tenant", Rule: "format", Description: "must be a tenant id such as jeongeup"})
	}
	vkey, err := s.store.VerifierKey(ctx, req.GetTenant())
	if err != nil {
		return nil, err
	}
	return &retentionv1.CertificateKey{VerifierKey: vkey}, nil
}
