package requests

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/breach"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// BreachServer implements pipa.requests.v1.BreachService on the request service's store and
// ledger outbox. Its handlers have the shape of the request steps' (steps.go): parse, authorize,
// gather (the unit's published name), let package breach decide under the row lock while the
// store writes the breach and its BREACH ledger entry in one transaction, deliver the entry, answer.
type BreachServer struct {
	requestsv1.UnimplementedBreachServiceServer
	s   *Server
	now func() time.Time
}

// Breaches is the breach service beside s, on clock now (s's when nil; tests move it to see a
// posting's period end).
func (s *Server) Breaches(now func() time.Time) *BreachServer {
	if now == nil {
		now = s.now
	}
	s.breachClock = now
	return &BreachServer{s: s, now: now}
}

func (b *BreachServer) CreateBreach(ctx context.Context, req *requestsv1.CreateBreachRequest) (*requestsv1.Breach, error) {
	tenant, unit, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := b.s.units.Authorize(ctx, tenant, unit, staffRoles); err != nil { // asks the registry for the unit once, and remembers it
		return nil, err
	}
	doc, err := breach.Intake(req.GetBreach(), b.now())
	if err != nil {
		return nil, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, err
	}
	rec, id, err := b.s.store.CreateBreach(ctx, tenant, unit, doc, idem, breachEntry(auth.Officer(ctx)))
	if err != nil {
		return nil, err
	}
	return b.answer(ctx, rec, id)
}

// answer delivers the step's entry at once (the outbox's job delivers it later if the ledger is
// out: the step then shows pending) and reads the breach back with its steps.
func (b *BreachServer) answer(ctx context.Context, rec *pg.Breach, id int64) (*requestsv1.Breach, error) {
	if id != 0 {
		if _, err := b.s.outbox.Deliver(ctx, rec.Tenant, id); err != nil && !errors.Is(err, ledgerout.ErrRefused) {
			b.s.log.Warn("ledger entry left to the outbox", "breach", rec.Doc.GetName(), "err", err)
		}
	}
	rec, err := b.s.store.GetBreach(ctx, rec.Tenant, rec.Unit, rec.Number)
	if err != nil {
		return nil, err
	}
	return b.staffView(ctx, rec)
}

// staffView is the breach as its staff see it: view with, on each notice pipa mailed or texted,
// the state of each of its deliveries.
func (b *BreachServer) staffView(ctx context.Context, rec *pg.Breach) (*requestsv1.Breach, error) {
	v := view(rec, b.now())
	if !slices.ContainsFunc(v.GetNotices(), func(n *requestsv1.BreachNotice) bool {
		return n.GetMethod() == requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL || n.GetMethod() == requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS
	}) {
		return v, nil
	}
	notice := map[string]*requestsv1.BreachNotice{}
	for i, n := range v.GetNotices() {
		notice[pg.BreachNoticeLabel(i+1)] = n
	}
	f := outbound.Filter{Subject: v.GetName(), Limit: breach.MaxRecipients}
	for {
		recs, err := b.s.out.out.Records(ctx, rec.Tenant, f)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if n := notice[r.Label]; n != nil && pg.IsBreachSubject(r.Target) {
				n.Deliveries = append(n.Deliveries, deliveryView(rec.Tenant, r))
			}
		}
		if len(recs) < f.Limit {
			return v, nil
		}
		f.After = recs[len(recs)-1].ID
	}
}

func view(rec *pg.Breach, now time.Time) *requestsv1.Breach {
	out := breach.View(rec.Doc, now)
	out.Etag = rec.Etag()
	return out
}

// breachEntry is the BREACH entry of a step taken by officer: the breach and its type as the
// file, the step as the purpose, its rule, and what was done. No personal data.
func breachEntry(officer string) pg.BreachEntry {
	return func(b *requestsv1.Breach, o breach.Outcome) ledgerout.Entry {
		return ledgerout.Entry{Label: o.Label, Append: &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_BREACH, OccurTime: b.GetUpdateTime(), FileName: b.GetName(),
			Purpose: o.Label, Handler: officer, LegalBasis: o.Rule, Note: o.Note}}}
	}
}

func (b *BreachServer) authorize(ctx context.Context, name string, roles []auth.Role) (tenant, unit string, n int64, err error) {
	if tenant, unit, n, err = names.Breaches.ParseN("name", name); err != nil {
		return "", "", 0, err
	}
	return tenant, unit, n, b.s.units.Authorize(ctx, tenant, unit, roles)
}

func (b *BreachServer) GetBreach(ctx context.Context, req *requestsv1.GetBreachRequest) (*requestsv1.Breach, error) {
	tenant, unit, n, err := b.authorize(ctx, req.GetName(), readRoles)
	if err != nil {
		return nil, err
	}
	rec, err := b.s.store.GetBreach(ctx, tenant, unit, n)
	if err != nil {
		return nil, err
	}
	return b.staffView(ctx, rec)
}

func (b *BreachServer) ListBreaches(ctx context.Context, req *requestsv1.ListBreachesRequest) (*requestsv1.ListBreachesResponse, error) {
	tenant, unit, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := b.s.units.Authorize(ctx, tenant, unit, readRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	query := names.Query{"requests.breaches", req.GetParent(), strconv.FormatBool(req.GetOpen()), strconv.FormatBool(req.GetOverdue())}
	after, err := query.ParseN(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	now := b.now()
	page, err := b.s.store.ListBreaches(ctx, tenant, unit, req.GetOpen(), req.GetOverdue(), size, after, now)
	if err != nil {
		return nil, err
	}
	out := &requestsv1.ListBreachesResponse{OverdueCount: page.Overdue, DueSoonCount: page.DueSoon}
	if page.Next != 0 {
		out.NextPageToken = query.TokenN(page.Next)
	}
	for _, rec := range page.Breaches {
		out.Breaches = append(out.Breaches, view(rec, now))
	}
	return out, nil
}

// step takes a step of the breach name: the unit's published name and the posting's path are
// gathered before the row is locked.
func (b *BreachServer) step(ctx context.Context, name, etag string, req idempotent, st breach.Step) (*requestsv1.Breach, error) {
	tenant, unit, n, err := b.authorize(ctx, name, staffRoles)
	if err != nil {
		return nil, err
	}
	u, err := b.s.registry.GetUnit(unitauth.ForwardToken(ctx), &registryv1.GetUnitRequest{Name: names.Unit(tenant, unit)})
	if err != nil {
		return nil, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, err
	}
	env := breach.Env{Officer: auth.Officer(ctx), Institution: u.GetFullName(), Path: PostingPath(tenant, unit, n),
		SendsMail: b.s.out.out.Sends(outbound.Mail), SendsText: b.s.out.out.Sends(outbound.SMS)}
	rec, id, err := b.s.store.StepBreach(ctx, tenant, unit, n, etag, idem, func(doc *requestsv1.Breach) (breach.Outcome, error) {
		env.Now = b.now()
		return breach.Apply(doc, st, env)
	}, breachEntry(env.Officer))
	if err != nil {
		return nil, err
	}
	return b.answer(ctx, rec, id)
}

// ListBreachPostings is public: the unit's postings up now (DEC-39-3), which its public page links.
func (b *BreachServer) ListBreachPostings(ctx context.Context, req *requestsv1.ListBreachPostingsRequest) (*requestsv1.ListBreachPostingsResponse, error) {
	if !names.ValidID(req.GetTenant()) || !names.ValidID(req.GetUnit()) {
		return nil, apierr.NotFound(names.Unit(req.GetTenant(), req.GetUnit()))
	}
	ps, err := b.s.store.Postings(ctx, req.GetTenant(), req.GetUnit(), b.now())
	if err != nil {
		return nil, err
	}
	return &requestsv1.ListBreachPostingsResponse{Postings: ps}, nil
}

// PostingPath is the public page of the unit's breach n's posting.
func PostingPath(tenant, unit string, n int64) string {
	return "/p/" + tenant + "/" + unit + "/notices/" + strconv.FormatInt(n, 10)
}

func (b *BreachServer) CompleteBreach(ctx context.Context, req *requestsv1.CompleteBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Complete{Facts: req.GetBreach()})
}

func (b *BreachServer) NotifyBreach(ctx context.Context, req *requestsv1.NotifyBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Notify{Method: req.GetMethod(), SendTime: req.GetSendTime(), Count: req.GetRecipientCount(), Emails: req.GetRecipientEmails(),
			Phones: req.GetRecipientPhones(), ToUnreached: req.GetToUnreached()})
}

func (b *BreachServer) ReportBreach(ctx context.Context, req *requestsv1.ReportBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Report{Agency: req.GetAgency(), SendTime: req.GetSendTime(), ReceiptNumber: req.GetReceiptNumber()})
}

func (b *BreachServer) ExemptBreach(ctx context.Context, req *requestsv1.ExemptBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Exempt{RouteIdentified: req.GetRouteIdentified(), RetrievedOrDeleted: req.GetRetrievedOrDeleted(), Reason: req.GetReason()})
}

func (b *BreachServer) PostBreach(ctx context.Context, req *requestsv1.PostBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Post{UnreachableReason: req.GetUnreachableReason()})
}

func (b *BreachServer) CloseBreach(ctx context.Context, req *requestsv1.CloseBreachRequest) (*requestsv1.Breach, error) {
	return b.step(ctx, req.GetName(), req.GetEtag(), req,
		breach.Close{})
}

// GetBreachPosting is public: the posting while its period runs (DEC-39-3), NotFound otherwise.
func (b *BreachServer) GetBreachPosting(ctx context.Context, req *requestsv1.GetBreachPostingRequest) (*requestsv1.BreachPosting, error) {
	if !names.ValidID(req.GetTenant()) || !names.ValidID(req.GetUnit()) || req.GetBreach() <= 0 {
		return nil, apierr.NotFound(names.Breaches.NameN(req.GetTenant(), req.GetUnit(), req.GetBreach()))
	}
	return b.s.store.Posting(ctx, req.GetTenant(), req.GetUnit(), req.GetBreach(), b.now())
}
