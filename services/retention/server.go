package retention

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
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
	units    *unitauth.Units
	registry registryv1.RegistryServiceClient
	ledger   ledgerv1.LedgerServiceClient
	requests requestsv1.RequestServiceClient
	// token is the service's own credential, for background work.
	token func() (string, error)
	now   func() time.Time
	batch int
	log   *slog.Logger
}

// New returns the service over store and its ledger outbox; token is the service credential, now
// its clock.
func New(store *pg.Store, outbox *ledgerout.Outbox, registry registryv1.RegistryServiceClient, ledger ledgerv1.LedgerServiceClient,
	requests requestsv1.RequestServiceClient, token func() (string, error), now func() time.Time) *Server {
	return &Server{store: store, outbox: outbox, units: &unitauth.Units{Registry: registry}, registry: registry, ledger: ledger,
		requests: requests, token: token, now: now, batch: defaultBatch, log: slog.Default()}
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
	validateRule(&vs, r)
	if err := s.checkResource(ctx, &vs, tenant, unit, r); err != nil {
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

// checkResource checks what a rule covers: a site (or one of its zones) or file of the unit that
// the registry knows (asked with the caller's token), or nothing for a category of the platform's
// records. A site's period is its retention days, a zone's the zone's (STD-41-2).
func (s *Server) checkResource(ctx context.Context, vs *apierr.Violations, tenant, unit string, r *retentionv1.Rule) error {
	res := r.GetResource()
	if r.GetZone() != "" && r.GetTarget() != retentionv1.RuleTarget_RULE_TARGET_SITE {
		vs.Add("rule.zone", "STD-41-2", "a zone is a part of a CCTV site kept for its own period: only a site rule names one")
	}
	switch r.GetTarget() {
	case retentionv1.RuleTarget_RULE_TARGET_SITE:
		if !names.Sites.In(tenant, unit, res) {
			vs.Add("rule.resource", "STD-41-2", "must be a site of this unit: %s/sites/{site}", names.Unit(tenant, unit))
			return nil
		}
		site, err := s.registry.GetSite(unitauth.ForwardToken(ctx), &registryv1.GetSiteRequest{Name: res})
		if status.Code(err) == codes.NotFound {
			vs.Add("rule.resource", "STD-41-2", "no such site: %s", res)
			return nil
		}
		if err != nil {
			return err
		}
		days, ok := retentionDays(site, r.GetZone())
		if !ok {
			zones := []string{}
			for _, z := range site.GetZoneRetentions() {
				zones = append(zones, strconv.Quote(z.GetZone()))
			}
			vs.Add("rule.zone", "STD-41-2", "the site %s has no zone %q kept for its own period; its zones (zone_retentions): [%s]",
				res, r.GetZone(), strings.Join(zones, ", "))
			return nil
		}
		if r.PeriodDays = days; days <= 0 {
			vs.Add("rule.resource", "STD-41-2", "the site %s states no retention days: set them in the registry first", res)
		}
	case retentionv1.RuleTarget_RULE_TARGET_FILE:
		if !names.Files.In(tenant, unit, res) {
			vs.Add("rule.resource", "STD-60", "must be a personal-information file of this unit: %s/files/{file}", names.Unit(tenant, unit))
			return nil
		}
		_, err := s.registry.GetFile(unitauth.ForwardToken(ctx), &registryv1.GetFileRequest{Name: res})
		if status.Code(err) == codes.NotFound {
			vs.Add("rule.resource", "STD-60", "no such file: %s", res)
			return nil
		}
		return err
	default:
		if res != "" {
			vs.Add("rule.resource", "format", "a rule for a category of the platform's records covers no single resource: leave it empty")
		}
	}
	return nil
}

// retentionDays is a site rule's period as the registry's site sets it: for a zone, the zone's
// retention days (ok is false when the site has no such zone); otherwise the site's.
func retentionDays(site *registryv1.Site, zone string) (days int32, ok bool) {
	if zone == "" {
		return site.GetRetentionDays(), true
	}
	for _, z := range site.GetZoneRetentions() {
		if z.GetZone() == zone {
			return z.GetRetentionDays(), true
		}
	}
	return 0, false
}

// recordedName is what a site rule's records call its recordings: the site's name, and its zone.
func recordedName(site, zone string) string {
	if zone == "" {
		return site
	}
	return site + " " + zone
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
	size := pageSize(&vs, req.GetPageSize())
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

// ruleFields are the paths UpdateRule may change.
var ruleFields = []string{"display_name", "period_days", "clock_start", "action", "auto_delete_cycle", "method", "basis"}

func (s *Server) UpdateRule(ctx context.Context, req *retentionv1.UpdateRuleRequest) (*retentionv1.Rule, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetRule().GetName(), writeRoles)
	if err != nil {
		return nil, err
	}
	in := req.GetRule()
	paths, whole := req.GetUpdateMask().GetPaths(), len(req.GetUpdateMask().GetPaths()) == 0
	if whole {
		paths = ruleFields
	}
	var vs apierr.Violations
	for _, p := range paths {
		switch {
		case p == "target" || p == "resource" || p == "zone":
			vs.Add("update_mask", "immutable", "%s is fixed at creation: delete the rule and create another", p)
		case !slices.Contains(ruleFields, p):
			vs.Add("update_mask", "format", "unknown or output-only field %q; writable: %s", p, strings.Join(ruleFields, ", "))
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	rule, err := s.store.UpdateRule(ctx, tenant, unit, id, in.GetEtag(), func(r *retentionv1.Rule) error {
		site := r.GetTarget() == retentionv1.RuleTarget_RULE_TARGET_SITE
		for _, p := range paths {
			switch p {
			case "display_name":
				r.DisplayName = in.GetDisplayName()
			case "period_days":
				if site && whole {
					continue
				}
				if site {
					return apierr.Invalid(apierr.Violation{Field: "rule.period_days", Rule: "STD-41-2",
						Description: "a site rule's period is the site's (or its zone's) retention days: change them in the registry"})
				}
				r.PeriodDays = in.GetPeriodDays()
			case "clock_start":
				r.ClockStart = in.GetClockStart()
			case "action":
				r.Action = in.GetAction()
			case "auto_delete_cycle":
				r.AutoDeleteCycle = in.GetAutoDeleteCycle()
			case "method":
				r.Method = in.GetMethod()
			case "basis":
				r.Basis = in.GetBasis()
			}
		}
		var vs apierr.Violations
		validateRule(&vs, r)
		return vs.Err()
	})
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
	r, err := s.store.DeleteRule(ctx, tenant, unit, id, req.GetEtag())
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
	scope, start, end, err := s.holdScope(ctx, &vs, tenant, unit, h)
	if err != nil {
		return nil, err
	}
	validateHold(&vs, h, s.now())
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

// holdScope checks that a hold names exactly one thing of the unit that exists: a site with a
// time range, a file, a request, or a ledger entry that links to no request (an entry's item is
// covered by a hold on its request). It returns what items name to be covered.
func (s *Server) holdScope(ctx context.Context, vs *apierr.Violations, tenant, unit string, h *retentionv1.Hold) (scope string, start, end *time.Time, err error) {
	n := 0
	for _, v := range []string{h.GetSite(), h.GetFile(), h.GetRequest(), h.GetLedgerEntry()} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		vs.Add("hold", "PIPA-21-1", "a hold covers exactly one of: site (with start_time and end_time), file, request, ledger_entry")
		return "", nil, nil, nil
	}
	fwd := unitauth.ForwardToken(ctx)
	switch {
	case h.GetSite() != "":
		switch {
		case h.GetStartTime() == nil || h.GetEndTime() == nil:
			vs.Add("hold.start_time", "PIPA-21-1", "a site's hold covers a time range: start_time and end_time")
		case h.GetStartTime().CheckValid() != nil:
			vs.Add("hold.start_time", "PIPA-21-1", "not a valid timestamp: %v", h.GetStartTime().CheckValid())
		case h.GetEndTime().CheckValid() != nil:
			vs.Add("hold.end_time", "PIPA-21-1", "not a valid timestamp: %v", h.GetEndTime().CheckValid())
		case !h.GetEndTime().AsTime().After(h.GetStartTime().AsTime()):
			vs.Add("hold.end_time", "PIPA-21-1", "must be after start_time")
		default:
			a, b := h.GetStartTime().AsTime(), h.GetEndTime().AsTime()
			start, end = &a, &b
		}
		if !names.Sites.In(tenant, unit, h.GetSite()) {
			vs.Add("hold.site", "PIPA-21-1", "must be a site of this unit: %s/sites/{site}", names.Unit(tenant, unit))
		} else if _, err := s.registry.GetSite(fwd, &registryv1.GetSiteRequest{Name: h.GetSite()}); status.Code(err) == codes.NotFound {
			vs.Add("hold.site", "PIPA-21-1", "no such site: %s", h.GetSite())
		} else if err != nil {
			return "", nil, nil, err
		}
		return h.GetSite(), start, end, nil
	case h.GetStartTime() != nil || h.GetEndTime() != nil:
		vs.Add("hold.start_time", "PIPA-21-1", "a time range belongs to a site's hold; any other hold covers all of its scope")
	}
	switch {
	case h.GetFile() != "":
		if !names.Files.In(tenant, unit, h.GetFile()) {
			vs.Add("hold.file", "PIPA-21-1", "must be a file of this unit: %s/files/{file}", names.Unit(tenant, unit))
		} else if _, err := s.registry.GetFile(fwd, &registryv1.GetFileRequest{Name: h.GetFile()}); status.Code(err) == codes.NotFound {
			vs.Add("hold.file", "PIPA-21-1", "no such file: %s", h.GetFile())
		} else if err != nil {
			return "", nil, nil, err
		}
		return h.GetFile(), nil, nil, nil
	case h.GetRequest() != "":
		if !names.Requests.In(tenant, unit, h.GetRequest()) {
			vs.Add("hold.request", "PIPA-21-1", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
		} else if _, err := s.requests.GetRequest(fwd, &requestsv1.GetRequestRequest{Name: h.GetRequest()}); status.Code(err) == codes.NotFound {
			vs.Add("hold.request", "PIPA-21-1", "no such request: %s", h.GetRequest())
		} else if err != nil {
			return "", nil, nil, err
		}
		return h.GetRequest(), nil, nil, nil
	}
	e, err := s.unitEntry(fwd, vs, "hold.ledger_entry", "PIPA-21-1", tenant, unit, h.GetLedgerEntry())
	if e == nil || err != nil {
		return "", nil, nil, err
	}
	if e.GetRequest() != "" {
		vs.Add("hold.ledger_entry", "PIPA-21-1", "entry %d records %s: hold the request, which holds its entries too", e.GetIndex(), e.GetRequest())
	}
	return h.GetLedgerEntry(), nil, nil, nil
}

// unitEntry reads an entry of the unit's ledger named in field, with the caller's token; it
// returns nil, with a violation of rule, when there is no such entry.
func (s *Server) unitEntry(fwd context.Context, vs *apierr.Violations, field, rule, tenant, unit, name string) (*ledgerv1.Entry, error) {
	if !names.Entries.In(tenant, unit, name) {
		vs.Add(field, rule, "must be an entry of this unit's ledger: %s/ledger/entries/{index}", names.Unit(tenant, unit))
		return nil, nil
	}
	e, err := s.ledger.GetEntry(fwd, &ledgerv1.GetEntryRequest{Name: name})
	if c := status.Code(err); c == codes.NotFound || c == codes.InvalidArgument {
		vs.Add(field, rule, "no such ledger entry: %s", name)
		return nil, nil
	}
	return e, err
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
	size := pageSize(&vs, req.GetPageSize())
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
	checkText(&vs, "reason", req.GetReason(), true)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	h, err := s.store.ReleaseHold(ctx, tenant, unit, id, auth.Officer(ctx), req.GetReason())
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
	n := pg.NewItem{RuleID: ruleID, Description: in.GetDescription(), RecordCount: in.GetRecordCount(),
		Resource: in.GetResource(), PeriodDays: rule.Doc.GetPeriodDays()}
	checkLen(&vs, "item.description", in.GetDescription(), false, maxDescription)
	if in.GetRecordCount() < 0 {
		vs.Add("item.record_count", "range", "must not be negative")
	}
	if err := s.itemSubject(ctx, &vs, tenant, unit, rule, in, &n); err != nil {
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
	return s.itemView(it, s.now()), nil
}

// itemSubject checks what an item names per its rule's target and fills in its clock start,
// scope and default description: a site's recording day, a file's batch, a closed request (its
// close time starts the clock), or a ledger entry (its occur time, unless given).
func (s *Server) itemSubject(ctx context.Context, vs *apierr.Violations, tenant, unit string, rule *pg.Rule, in *retentionv1.Item, n *pg.NewItem) error {
	now := s.now()
	target := rule.Doc.GetTarget()
	if t := in.GetClockStartTime(); t != nil && t.CheckValid() != nil {
		vs.Add("item.clock_start_time", "PIPA-21-1", "not a valid timestamp: %v", t.CheckValid())
		return nil
	}
	if in.GetRecordingDate() != "" && target != retentionv1.RuleTarget_RULE_TARGET_SITE {
		vs.Add("item.recording_date", "STD-41-2", "a recording day belongs to an item of a site's rule")
	}
	if in.GetResource() != "" && (target == retentionv1.RuleTarget_RULE_TARGET_SITE || target == retentionv1.RuleTarget_RULE_TARGET_FILE) {
		vs.Add("item.resource", "format", "a site's or file's item names no resource; its rule does")
	}
	fwd := unitauth.ForwardToken(ctx)
	switch target {
	case retentionv1.RuleTarget_RULE_TARGET_SITE:
		n.Scope = rule.Doc.GetResource()
		if in.GetRecordingDate() == "" {
			vs.Add("item.recording_date", "STD-41-2", "a site's item is one recording day (YYYY-MM-DD)")
			return nil
		}
		d, ok := parseDate(vs, "item.recording_date", in.GetRecordingDate(), "STD-41-2")
		if !ok {
			return nil
		}
		if seoul.Date(d) > seoul.Date(now) {
			vs.Add("item.recording_date", "STD-41-2", "must not be in the future: a recording day is kept from when it was recorded")
		}
		n.RecordingDate, n.ClockStart = &d, d
		if n.Description == "" {
			n.Description = s.siteName(fwd, rule) + " " + seoul.Date(d) + " 녹화분"
		}
	case retentionv1.RuleTarget_RULE_TARGET_FILE:
		n.Scope = rule.Doc.GetResource()
		if strings.TrimSpace(in.GetDescription()) == "" { // its length is CreateItem's check
			vs.Add("item.description", "required", "must not be empty")
		}
		if in.GetClockStartTime() == nil {
			vs.Add("item.clock_start_time", "PIPA-21-1", "when the batch's period started is required (%s)", rule.Doc.GetClockStart())
		} else if n.ClockStart = in.GetClockStartTime().AsTime(); n.ClockStart.After(now) {
			vs.Add("item.clock_start_time", "PIPA-21-1", "must not be in the future")
		}
	case retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS:
		n.Scope = in.GetResource()
		if !names.Requests.In(tenant, unit, in.GetResource()) {
			vs.Add("item.resource", "format", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
			return nil
		}
		if p, _ := auth.FromContext(ctx); p.IsService() {
			// The request service registers its own closed request, stating when it closed.
			if in.GetClockStartTime() == nil {
				vs.Add("item.clock_start_time", "PIPA-21-1", "the request's close time is required")
			} else {
				n.ClockStart = in.GetClockStartTime().AsTime()
			}
			if n.Description == "" {
				n.Description = in.GetResource()[strings.LastIndex(in.GetResource(), "/")+1:] + " 요구 처리기록의 개인정보"
			}
			return nil
		}
		r, err := s.requests.GetRequest(fwd, &requestsv1.GetRequestRequest{Name: in.GetResource()})
		if status.Code(err) == codes.NotFound {
			vs.Add("item.resource", "exists", "no such request: %s", in.GetResource())
			return nil
		}
		if err != nil {
			return err
		}
		if r.GetState() != requestsv1.RequestState_REQUEST_STATE_CLOSED || r.GetCloseTime() == nil {
			return apierr.Precondition("REQUEST_NOT_CLOSED", in.GetResource()+" is not closed: its record's period starts when it closes (PIPA-21-1)")
		}
		n.ClockStart = r.GetCloseTime().AsTime()
		if n.Description == "" {
			n.Description = r.GetReceiptNumber() + " 요구 처리기록의 개인정보"
		}
	case retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES:
		e, err := s.unitEntry(fwd, vs, "item.resource", "PIPA-21-1", tenant, unit, in.GetResource())
		if e == nil || err != nil {
			return err
		}
		// A hold on the request an entry records covers the entry; one on the entry itself, an
		// entry of no request.
		n.Scope = e.GetRequest()
		if n.Scope == "" {
			n.Scope = in.GetResource()
		}
		if e.GetRedacted() {
			return apierr.Precondition("ALREADY_REDACTED", in.GetResource()+"'s personal fields are already erased")
		}
		n.ClockStart = e.GetOccurTime().AsTime()
		if t := in.GetClockStartTime(); t != nil {
			n.ClockStart = t.AsTime()
		}
		if n.Description == "" {
			n.Description = fmt.Sprintf("관리대장 %d번 항목의 개인정보", e.GetIndex())
		}
	}
	return nil
}

// siteName is the site's display name as the registry has it, or its id when it is gone, with
// the rule's zone.
func (s *Server) siteName(ctx context.Context, rule *pg.Rule) string {
	site, err := s.registry.GetSite(ctx, &registryv1.GetSiteRequest{Name: rule.Doc.GetResource()})
	if err != nil {
		res := rule.Doc.GetResource()
		return recordedName(res[strings.LastIndex(res, "/")+1:], rule.Doc.GetZone())
	}
	return recordedName(site.GetDisplayName(), rule.Doc.GetZone())
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
	return s.itemView(it, s.now()), nil
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
	size := pageSize(&vs, req.GetPageSize())
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
		out.Items = append(out.Items, s.itemView(it, now))
	}
	return out, nil
}

// itemView is an item as served, its state as of now: past its due time it is due, held while a
// hold covers it, and overdue 5 days later unless held (STD-10-1).
func (s *Server) itemView(it *pg.Item, now time.Time) *retentionv1.Item {
	out := &retentionv1.Item{Name: it.Name(), Rule: names.Rules.Name(it.Tenant, it.Unit, it.RuleID),
		Description: it.Description, RecordCount: it.RecordCount, Resource: it.Resource,
		ClockStartTime: timestamppb.New(it.ClockStart), DueTime: timestamppb.New(it.Due), CreateTime: timestamppb.New(it.Create)}
	if d := it.RecordingDate; d != nil {
		out.RecordingDate = d.Format(time.DateOnly)
	}
	if it.PlanID != nil {
		out.Plan = names.Plans.NameN(it.Tenant, it.Unit, *it.PlanID)
	}
	due := !now.Before(it.Due)
	switch it.Status {
	case pg.Destroyed:
		out.State, out.DestructionTime, out.LedgerIndex = retentionv1.ItemState_ITEM_STATE_DESTROYED, timestamppb.New(*it.Destruction), *it.LedgerIndex
		return out
	case pg.Planned:
		out.State = retentionv1.ItemState_ITEM_STATE_PLANNED
	case pg.Kept:
		switch {
		case !due:
			out.State = retentionv1.ItemState_ITEM_STATE_RETAINED
		case len(it.Holds) > 0:
			out.State = retentionv1.ItemState_ITEM_STATE_HELD
		default:
			out.State = retentionv1.ItemState_ITEM_STATE_DUE
		}
	default:
		out.State = retentionv1.ItemState_ITEM_STATE_DUE
	}
	for _, h := range it.Holds {
		out.Holds = append(out.Holds, names.Holds.NameN(it.Tenant, it.Unit, h))
	}
	out.Overdue = len(it.Holds) == 0 && !now.Before(it.OverdueTime)
	return out
}

func (s *Server) ConfirmDeletion(ctx context.Context, req *retentionv1.ConfirmDeletionRequest) (*retentionv1.Item, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Items, itemRoles)
	if err != nil {
		return nil, err
	}
	now := s.now()
	deleted := now
	if t := req.GetDeletionTime(); t != nil {
		// STD-42-2 2: the record states when the deletion happened.
		var vs apierr.Violations
		if deleted = checkPast(&vs, "deletion_time", "STD-42-2", t, false, now); vs.Err() != nil {
			return nil, vs.Err()
		}
	}
	it, err := s.store.GetItem(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	rule, err := s.store.Rule(ctx, tenant, unit, it.RuleID)
	if err != nil {
		return nil, err
	}
	if rule.Doc.GetAction() != retentionv1.Action_ACTION_AUTO_DELETE {
		return nil, apierr.Precondition("NOT_AUTO_DELETE", "items of "+rule.Doc.GetName()+" are destroyed by a plan the CPO approves (STD-55), not by automatic deletion")
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
	outbox, err := s.store.ConfirmDeletion(ctx, tenant, unit, id, func(it *pg.Item) error {
		switch {
		case it.Status == pg.Planned:
			return apierr.Precondition("ITEM_PLANNED", it.Name()+" is in "+names.Plans.NameN(tenant, unit, *it.PlanID))
		case len(it.Holds) > 0:
			return apierr.Precondition("ITEM_HELD", fmt.Sprintf("%s is under a legal hold (%d); it must not be deleted until the hold is released",
				it.Name(), it.Holds[0]))
		case now.Before(it.Due):
			return apierr.Precondition("NOT_DUE", it.Name()+" is kept until "+it.Due.In(seoul.Location).Format("2006-01-02 15:04")+
				" under its published retention period (STD-41-2)")
		case deleted.Before(it.Due):
			return apierr.Invalid(apierr.Violation{Field: "deletion_time", Rule: "STD-42-2",
				Description: "must not be before the item's due time " + it.Due.In(seoul.Location).Format("2006-01-02 15:04") +
					": it was kept until then under its published retention period"})
		}
		return nil
	}, func(it *pg.Item) *ledgerv1.AppendEntryRequest {
		return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: timestamppb.New(deleted),
			FileName: it.Description, Handler: handler,
			Purpose:           fmt.Sprintf("보유기간(%d일) 경과", rule.Doc.GetPeriodDays()),
			DestructionMethod: rule.Doc.GetMethod(), AutoDeleteCycle: rule.Doc.GetAutoDeleteCycle(),
			AutoDeleteCheckedTime: timestamppb.New(now)}}
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
	return s.itemView(it, now), nil
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
