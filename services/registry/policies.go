package registry

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/document"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

const (
	draft     = registryv1.PolicyState_POLICY_STATE_DRAFT
	announced = registryv1.PolicyState_POLICY_STATE_ANNOUNCED
	archived  = registryv1.PolicyState_POLICY_STATE_ARCHIVED
)

// snapshot reads the unit's current data and its sub-units', with the unit's attestations about
// a policy kind, to be frozen into a version.
func snapshot(ctx context.Context, ts *pg.TenantStore, unitID string, kind registryv1.PolicyKind) (*registryv1.UnitSnapshot, error) {
	tenant, err := ts.Get(ctx)
	if err != nil {
		return nil, err
	}
	unit, err := ts.GetUnit(ctx, unitID)
	if err != nil {
		return nil, err
	}
	sub, err := ts.Subtree(ctx, unitID)
	if err != nil {
		return nil, err
	}
	ids := []string{unitID}
	for _, u := range sub {
		_, id, _ := names.ParseUnit("unit", u.GetName())
		ids = append(ids, id)
	}
	snap := &registryv1.UnitSnapshot{Tenant: tenant, Unit: unit, Subunits: sub}
	if err := listAll(ctx, ts, officerKind, ids, &snap.Officers); err != nil {
		return nil, err
	}
	if err := listAll(ctx, ts, siteKind, ids, &snap.Sites); err != nil {
		return nil, err
	}
	if err := listAll(ctx, ts, fileKind, ids, &snap.Files); err != nil {
		return nil, err
	}
	for _, f := range snap.Files { // a file's registration is the snapshot's registrations (published)
		clearFields(f, fileKind.derived...)
	}
	if err := listAll(ctx, ts, processorKind, ids, &snap.Processors); err != nil {
		return nil, err
	}
	if snap.Subprocessors, err = subprocessors(ctx, ts, ids, snap.GetProcessors()); err != nil {
		return nil, err
	}
	if snap.Attestations, err = ts.UnitAttestations(ctx, unitID, kind); err != nil {
		return nil, err
	}
	if kind == registryv1.PolicyKind_POLICY_KIND_PRIVACY {
		if err := published(ctx, ts, ids, snap); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// published adds the assessments and evaluations of units that the body publishes (DEC-38-3:
// it may; pipa states them only then), without their ledger entries, which change when an entry
// is appended and would make every draft's snapshot stale; and each file's PIPC registration as
// filed (PIPA-32-1), which a policy states only where its text binds it.
func published(ctx context.Context, ts *pg.TenantStore, units []string, snap *registryv1.UnitSnapshot) error {
	for _, u := range units {
		as, err := listRecords[*registryv1.ImpactAssessment](ctx, ts, u, pg.Assessments)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.GetPublish() {
				a.LedgerEntry = ""
				snap.Assessments = append(snap.Assessments, a)
			}
		}
		es, err := listRecords[*registryv1.ProtectionEvaluation](ctx, ts, u, pg.Evaluations)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.GetPublish() {
				e.LedgerEntry = ""
				snap.Evaluations = append(snap.Evaluations, e)
			}
		}
		rs, err := listRecords[*registryv1.Registration](ctx, ts, u, pg.Registrations)
		if err != nil {
			return err
		}
		snap.Registrations = append(snap.Registrations, register.Statuses(rs)...)
	}
	return nil
}

// subprocessors are the sub-processors the contracts of processors (of units) record with the
// body's consent (PIPA-26-6), in the order of the processors and of each contract.
func subprocessors(ctx context.Context, ts *pg.TenantStore, units []string, processors []*registryv1.Processor) ([]*registryv1.PublishedSubprocessor, error) {
	contracts := map[string]*registryv1.ProcessorContract{}
	for _, u := range units {
		cs, err := listRecords[*registryv1.ProcessorContract](ctx, ts, u, pg.Contracts)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			t, u, id, _ := names.Contracts.Parse("name", c.GetName())
			contracts[names.Processors.Name(t, u, id)] = c
		}
	}
	var out []*registryv1.PublishedSubprocessor
	for _, p := range processors {
		for _, sp := range contracts[p.GetName()].GetSubprocessors() {
			if sp.GetConsentDate() == "" {
				continue // not consented: not the body's processor to publish
			}
			out = append(out, &registryv1.PublishedSubprocessor{Processor: p.GetName(), ProcessorCompany: p.GetCompany(),
				Company: sp.GetCompany(), Work: sp.GetWork()})
		}
	}
	return out, nil
}

func listAll[M proto.Message](ctx context.Context, ts *pg.TenantStore, c child[M], units []string, out *[]M) error {
	token := ""
	for {
		ms, next, err := ts.ListChildren(ctx, c.kind, units, 500, token, func() proto.Message { return c.newMsg() })
		if err != nil {
			return err
		}
		for _, m := range ms {
			*out = append(*out, m.(M))
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// readSource reads a request's source document into v's title and text, or refuses it naming
// the lines.
func readSource(field string, src *registryv1.PolicySource, v *registryv1.PolicyVersion) error {
	if src == nil {
		return nil
	}
	doc, errs := document.Read(src.GetFormat(), src.GetContent())
	if len(errs) > 0 {
		var vs apierr.Violations
		for _, e := range errs {
			vs.Add(field+".content", "format", "%s", e.Error())
		}
		return vs.Err()
	}
	doc.Apply(v)
	return nil
}

// setHeadings fills the numbers and titles the articles' headings give.
func setHeadings(v *registryv1.PolicyVersion) {
	for _, a := range append(slices.Clone(v.GetArticles()), v.GetAttachments()...) {
		policy.SetHeading(a)
	}
}

func (s *Server) CreatePolicyVersion(ctx context.Context, req *registryv1.CreatePolicyVersionRequest) (*registryv1.PolicyVersion, error) {
	t, u, kind, err := parsePolicy("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	in := &registryv1.PolicyVersion{Title: req.GetPolicyVersion().GetTitle(), Preamble: req.GetPolicyVersion().GetPreamble(),
		Articles: req.GetPolicyVersion().GetArticles(), Attachments: req.GetPolicyVersion().GetAttachments()}
	if err := readSource("source", req.GetSource(), in); err != nil {
		return nil, err
	}
	vs := validateArticles(kind, in)
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	ts := s.store.Tenant(t)
	snap, err := snapshot(ctx, ts, u, kind)
	if err != nil {
		return nil, err
	}
	if len(in.GetArticles()) == 0 {
		if err := s.startingText(ctx, ts, u, kind, in); err != nil {
			return nil, err
		}
	}
	v := &registryv1.PolicyVersion{
		Kind:        kind,
		State:       draft,
		Title:       titleOr(in.GetTitle(), kind),
		Preamble:    in.GetPreamble(),
		Articles:    in.GetArticles(),
		Attachments: in.GetAttachments(),
		Snapshot:    snap,
	}
	setHeadings(v)
	return ts.CreateVersion(ctx, u, v, idem(ctx, req.GetRequestId(), req))
}

// startingText gives a draft with no text the text of the version in force (or the one announced
// to take effect), and a unit with no published version the writing guide's standard outline.
func (s *Server) startingText(ctx context.Context, ts *pg.TenantStore, u string, kind registryv1.PolicyKind, v *registryv1.PolicyVersion) error {
	pub, err := ts.PublishedVersions(ctx, u, kind)
	if err != nil {
		return err
	}
	s.setStanding(pub)
	var from *registryv1.PolicyVersion
	for _, p := range pub {
		if p.GetDocument() != nil && (from == nil || p.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE ||
			(from.GetStanding() != registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE && p.GetEffectiveDate() > from.GetEffectiveDate())) {
			from = p
		}
	}
	if from == nil {
		v.Articles = policy.Outline(kind)
		return nil
	}
	full, err := ts.GetVersion(ctx, u, kind, from.GetNumber())
	if err != nil {
		return err
	}
	v.Title = cmp.Or(v.GetTitle(), full.GetTitle())
	v.Preamble = cmp.Or(v.GetPreamble(), full.GetPreamble())
	v.Articles, v.Attachments = full.GetArticles(), full.GetAttachments()
	return nil
}

func titleOr(title string, kind registryv1.PolicyKind) string {
	if title == "" {
		return policy.DefaultTitle(kind)
	}
	return title
}

func (s *Server) GetPolicyVersion(ctx context.Context, req *registryv1.GetPolicyVersionRequest) (*registryv1.PolicyVersion, error) {
	t, u, kind, n, err := parseVersion("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	ts := s.store.Tenant(t)
	v, err := ts.GetVersion(ctx, u, kind, n)
	if err != nil {
		return nil, err
	}
	return v, s.decorate(ctx, ts, u, kind, v)
}

func (s *Server) ListPolicyVersions(ctx context.Context, req *registryv1.ListPolicyVersionsRequest) (*registryv1.ListPolicyVersionsResponse, error) {
	t, u, kind, err := parsePolicy("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	query := names.Query{"registry.versions", req.GetParent()}
	after, err := query.ParseN(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	ts := s.store.Tenant(t)
	vs, err := ts.ListVersions(ctx, u, kind)
	if err != nil {
		return nil, err
	}
	// Standings depend on every version, so the whole (short) list is read and then paged.
	s.setStanding(vs)
	if size == 0 {
		size = 50
	}
	size = min(size, 500)
	out := &registryv1.ListPolicyVersionsResponse{}
	for _, v := range vs {
		if int64(v.GetNumber()) <= after {
			continue
		}
		if len(out.PolicyVersions) == size {
			last := out.PolicyVersions[size-1].GetNumber()
			out.NextPageToken = query.TokenN(int64(last))
			break
		}
		out.PolicyVersions = append(out.PolicyVersions, v)
	}
	return out, nil
}

// decorate sets the computed end date and standing of versions from all versions of the policy.
func (s *Server) decorate(ctx context.Context, ts *pg.TenantStore, u string, kind registryv1.PolicyKind, vs ...*registryv1.PolicyVersion) error {
	pub, err := ts.PublishedVersions(ctx, u, kind)
	if err != nil {
		return err
	}
	s.setStanding(pub)
	byNum := map[int32]*registryv1.PolicyVersion{}
	for _, p := range pub {
		byNum[p.GetNumber()] = p
	}
	for _, v := range vs {
		if p, ok := byNum[v.GetNumber()]; ok {
			v.EndDate, v.Standing = p.GetEndDate(), p.GetStanding()
		}
	}
	return nil
}

// setStanding computes end dates and standings in place (WG26-24: each version's period).
func (s *Server) setStanding(vs []*registryv1.PolicyVersion) {
	byNum := map[int32]policy.Period{}
	for _, p := range policy.Periods(vs, policy.Today(s.now())) {
		byNum[p.Number] = p
	}
	for _, v := range vs {
		if p, ok := byNum[v.GetNumber()]; ok {
			v.Standing = p.Standing
			if !p.End.IsZero() {
				v.EndDate = p.End.String()
			}
		} else if v.GetState() == archived && v.GetEndDate() != "" {
			// The oldest archived version, known only by its end.
			v.Standing = registryv1.PolicyStanding_POLICY_STANDING_PAST
		}
	}
}

var draftPaths = map[string]bool{"title": true, "preamble": true, "articles": true, "attachments": true, "snapshot": true}

func (s *Server) UpdatePolicyVersion(ctx context.Context, req *registryv1.UpdatePolicyVersionRequest) (*registryv1.PolicyVersion, error) {
	in := req.GetPolicyVersion()
	t, u, kind, n, err := parseVersion("policy_version.name", in.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	if err := validateArticles(kind, in).Err(); err != nil {
		return nil, err
	}
	var out *registryv1.PolicyVersion
	_, err = s.once(ctx, t, req.GetRequestId(), req, in.GetName(), func(tx *pg.TenantStore) error {
		cur, err := tx.GetVersion(ctx, u, kind, n)
		if err != nil {
			return err
		}
		if cur.GetState() != draft {
			return frozen(cur)
		}
		refresh := false
		paths := req.GetUpdateMask().GetPaths()
		for _, p := range paths {
			refresh = refresh || p == "snapshot"
		}
		// The snapshot is never taken from the client: the "snapshot" path re-reads the registry.
		src := proto.CloneOf(in)
		src.Snapshot = cur.GetSnapshot()
		if err := applyMask(cur, src, req.GetUpdateMask(), draftPaths); err != nil {
			return err
		}
		cur.Title = titleOr(cur.GetTitle(), kind)
		setHeadings(cur)
		if refresh {
			if cur.Snapshot, err = snapshot(ctx, tx, u, kind); err != nil {
				return err
			}
		}
		out, err = tx.UpdateVersion(ctx, u, cur, in.GetEtag())
		return err
	}, func(tx *pg.TenantStore) (err error) {
		out, err = tx.GetVersion(ctx, u, kind, n)
		return err
	})
	return out, err
}

func frozen(v *registryv1.PolicyVersion) error {
	return apierr.Precondition("VERSION_FROZEN",
		"version "+v.GetName()+" is "+v.GetState().String()+" and can no longer change; create a new version instead")
}

func (s *Server) ImportPolicyVersion(ctx context.Context, req *registryv1.ImportPolicyVersionRequest) (*registryv1.PolicyVersion, error) {
	t, u, kind, err := parsePolicy("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, announceRoles); err != nil {
		return nil, err
	}
	in := req.GetPolicyVersion()
	text := &registryv1.PolicyVersion{Title: in.GetTitle()}
	if err := readSource("source", req.GetSource(), text); err != nil {
		return nil, err
	}
	vs := validateArticles(kind, text)
	checkRequestID(&vs, req.GetRequestId())
	if in.GetEffectiveDate() == "" && (req.GetSource() != nil || in.GetEndDate() == "") {
		// Only the oldest version may be known by its end alone ("2011. 9.30 이전 적용").
		vs.Add("policy_version.effective_date", "WG26-24", "an imported version needs the date it took effect (one known by its period only, at least its end date)")
	}
	eff, okEff := parseDate(&vs, "policy_version.effective_date", in.GetEffectiveDate())
	end, okEnd := parseDate(&vs, "policy_version.end_date", in.GetEndDate())
	_, _ = parseDate(&vs, "policy_version.announce_date", in.GetAnnounceDate())
	checkText(&vs, "policy_version.change_summary", in.GetChangeSummary())
	numbered := map[string]*registryv1.Article{}
	for _, a := range text.GetArticles() {
		numbered[a.GetNumber()] = a
	}
	for i, ai := range req.GetArticleItems() {
		f := fieldIdx("article_items", i)
		a := numbered[strings.Join(strings.Fields(ai.GetNumber()), "")]
		if a == nil || ai.GetNumber() == "" {
			vs.Add(f+".number", "exists", "the document has no article numbered %q", ai.GetNumber())
			continue
		}
		for j, k := range ai.GetItems() {
			if !policy.ValidItem(kind, k) {
				vs.Add(fieldIdx(f+".items", j), "enum", "%q is not an item of a %s policy", k, policy.Segment(kind))
			}
		}
		a.Items = ai.GetItems()
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	var out *registryv1.PolicyVersion
	var entry int64 // its PUBLICATION entry in the outbox
	err = s.store.Tenant(t).InTx(ctx, func(tx *pg.TenantStore) error {
		if err := tx.LockPolicy(ctx, u, kind); err != nil {
			return err
		}
		all, err := tx.PublishedVersions(ctx, u, kind)
		if err != nil {
			return err
		}
		today := policy.Today(s.now())
		others := policy.Declared(all)
		if okEff {
			var endDate policy.Date
			if okEnd {
				endDate = end
			}
			if v := policy.ValidateImport(eff, endDate, today, others); len(v) > 0 {
				for i := range v {
					v[i].Field = "policy_version." + v[i].Field
				}
				return apierr.Invalid(v...)
			}
		} else if okEnd && len(others) > 0 && !end.Before(others[0].Effective) {
			return apierr.Invalid(apierr.Violation{Field: "policy_version.end_date", Rule: "WG26-24",
				Description: "a version known only by its end date must end before every other version takes effect"})
		}
		v := &registryv1.PolicyVersion{
			Kind:          kind,
			State:         archived,
			Title:         titleOr(text.GetTitle(), kind),
			Preamble:      text.GetPreamble(),
			Articles:      text.GetArticles(),
			Attachments:   text.GetAttachments(),
			AnnounceDate:  in.GetAnnounceDate(),
			EffectiveDate: in.GetEffectiveDate(),
			EndDate:       in.GetEndDate(),
			ChangeSummary: in.GetChangeSummary(),
			OriginalUrl:   in.GetOriginalUrl(),
			AnnounceTime:  timestamppb.New(s.now()),
		}
		if len(v.GetArticles()) > 0 {
			if v.Snapshot, err = snapshot(ctx, tx, u, kind); err != nil {
				return err
			}
		}
		if out, err = tx.CreateVersion(ctx, u, v, idem(ctx, req.GetRequestId(), req)); err != nil {
			return err
		}
		if len(out.GetArticles()) == 0 || out.GetDocument() != nil {
			return nil // known by its period only, or a replay of an import already frozen
		}
		// STD-21, WG26-24: held exactly as published, whatever :check finds for its next version.
		entry, err = s.freeze(ctx, tx, u, out, all)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.deliverSoon(t, entry)
	return out, s.decorate(ctx, s.store.Tenant(t), u, kind, out)
}

// freeze renders v's document as published, compares it with the version it follows, stores it
// and writes its PUBLICATION entry to the outbox, inside the caller's transaction; it returns the
// entry's outbox id, for the caller to deliver once the transaction commits. pub are the policy's
// other published versions.
func (s *Server) freeze(ctx context.Context, tx *pg.TenantStore, u string, v *registryv1.PolicyVersion, pub []*registryv1.PolicyVersion) (int64, error) {
	f := facts(v, pub)
	doc, probs := render.Freeze(v, f)
	if len(probs) > 0 {
		return 0, unresolved(probs)
	}
	doc.FreezeTime = timestamppb.New(s.now())
	if prev := previous(pub, v); prev != nil && prev.GetDocument() != nil {
		full, err := tx.GetVersion(ctx, u, v.GetKind(), prev.GetNumber())
		if err != nil {
			return 0, err
		}
		v.Comparison = render.Compare(render.Texts(full, facts(full, pub)), render.Texts(v, f))
	}
	v.Document = doc
	out, err := tx.UpdateVersion(ctx, u, v, "")
	if err != nil {
		return 0, err
	}
	proto.Reset(v)
	proto.Merge(v, out)
	return tx.EnqueuePublication(ctx, u, v.GetName(), publicationEntry(v), "")
}

// facts are what v's bindings and links read: its snapshot, and the policy's published versions.
func facts(v *registryv1.PolicyVersion, pub []*registryv1.PolicyVersion) render.Facts {
	f := render.Facts{Snapshot: v.GetSnapshot(), Version: v}
	for _, p := range pub {
		f.Versions = append(f.Versions, p.GetNumber())
	}
	return f
}

func unresolved(probs []render.Problem) error {
	var vs apierr.Violations
	for _, p := range probs {
		vs.Add("policy_version."+p.Field, "format", "%s", p.Error())
	}
	return vs.Err()
}

func parseDate(vs *apierr.Violations, field, s string) (policy.Date, bool) {
	if s == "" {
		return policy.Date{}, false
	}
	d, err := policy.ParseDate(s)
	if err != nil {
		vs.Add(field, "format", "must be a date YYYY-MM-DD (got %q)", s)
		return policy.Date{}, false
	}
	return d, true
}

func incomplete(findings []*registryv1.Finding) error {
	var vs []apierr.Violation
	for _, f := range findings {
		if f.GetBlocking() {
			vs = append(vs, apierr.Violation{Field: f.GetField(), Rule: f.GetRule(), Description: f.GetMessage()})
		}
	}
	return apierr.Precondition("POLICY_INCOMPLETE",
		"the policy lacks statutory items; fix the findings of :check before announcing", vs...)
}

func (s *Server) CheckPolicyVersion(ctx context.Context, req *registryv1.CheckPolicyVersionRequest) (*registryv1.CheckPolicyVersionResponse, error) {
	v, err := s.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	t, u, kind, _, _ := parseVersion("name", req.GetName())
	pub, err := s.store.Tenant(t).PublishedVersions(ctx, u, kind)
	if err != nil {
		return nil, err
	}
	f := s.findings(v, pub)
	return &registryv1.CheckPolicyVersionResponse{Findings: f, Ready: policy.Ready(f), Coverage: policy.Coverage(v)}, nil
}

// findings are policy.Check's, and what keeps the text from resolving against the snapshot.
func (s *Server) findings(v *registryv1.PolicyVersion, pub []*registryv1.PolicyVersion) []*registryv1.Finding {
	f := policy.Check(v)
	if v.GetDocument() == nil {
		for _, p := range render.Problems(v, facts(v, pub)) {
			f = append(f, &registryv1.Finding{Rule: "format", Field: p.Field, Message: p.Error(), Blocking: true})
		}
	}
	return f
}

func (s *Server) AnnouncePolicyVersion(ctx context.Context, req *registryv1.AnnouncePolicyVersionRequest) (*registryv1.PolicyVersion, error) {
	t, u, kind, n, err := parseVersion("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, announceRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if req.GetEffectiveDate() == "" {
		vs.Add("effective_date", "STD-21", "the date the version takes effect must be published with it")
	}
	eff, _ := parseDate(&vs, "effective_date", req.GetEffectiveDate())
	ann, okAnn := parseDate(&vs, "announce_date", req.GetAnnounceDate())
	checkText(&vs, "change_summary", req.GetChangeSummary())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	today := policy.Today(s.now())
	if !okAnn {
		ann = today
	} else if ann.After(today) {
		// STD-21: the announcement is published by this call; it cannot carry a later date.
		return nil, apierr.Invalid(apierr.Violation{Field: "announce_date", Rule: "STD-21",
			Description: "the announcement is published now; announce_date must be today (" + today.String() + ") or empty"})
	}
	var out *registryv1.PolicyVersion
	var replayed bool
	var entry int64 // its PUBLICATION entry in the outbox; 0 on a replay
	err = s.store.Tenant(t).InTx(ctx, func(tx *pg.TenantStore) error {
		var err error
		replayed, err = tx.Once(ctx, idem(ctx, req.GetRequestId(), req), func() (string, error) {
			return req.GetName(), s.announce(ctx, tx, req, u, kind, n, ann, eff, today, &out, &entry)
		})
		if err != nil || !replayed {
			return err
		}
		out, err = tx.GetVersion(ctx, u, kind, n) // a retry after a lost answer: the version as it stands
		return err
	})
	if err != nil {
		return nil, err
	}
	s.deliverSoon(t, entry)
	return out, s.decorate(ctx, s.store.Tenant(t), u, kind, out)
}

// announce announces the draft n under the policy's lock in tx, setting out and entry (its
// PUBLICATION entry's outbox id).
func (s *Server) announce(ctx context.Context, tx *pg.TenantStore, req *registryv1.AnnouncePolicyVersionRequest, u string, kind registryv1.PolicyKind,
	n int32, ann, eff, today policy.Date, out **registryv1.PolicyVersion, entry *int64) error {
	if err := tx.LockPolicy(ctx, u, kind); err != nil {
		return err
	}
	v, err := tx.GetVersion(ctx, u, kind, n)
	if err != nil {
		return err
	}
	if v.GetState() != draft {
		return frozen(v)
	}
	if req.GetEtag() != "" && req.GetEtag() != v.GetEtag() {
		return apierr.EtagMismatch(v.GetName())
	}
	// What is announced must be what the registry says now: a draft whose data changed since
	// it was made is refreshed (update_mask "snapshot") and reviewed again first.
	fresh, err := snapshot(ctx, tx, u, kind)
	if err != nil {
		return err
	}
	if !proto.Equal(fresh, v.GetSnapshot()) {
		return apierr.Precondition("SNAPSHOT_STALE", "the registry data of "+v.GetName()+
			" changed after the draft was made; refresh it (PATCH with update_mask \"snapshot\"), check it and announce again")
	}
	all, err := tx.PublishedVersions(ctx, u, kind)
	if err != nil {
		return err
	}
	if f := s.findings(v, all); !policy.Ready(f) {
		return incomplete(f)
	}
	tenant, err := tx.Get(ctx)
	if err != nil {
		return err
	}
	prev := previous(all, v)
	var rows []*registryv1.ComparisonRow
	if prev != nil && prev.GetDocument() != nil {
		full, err := tx.GetVersion(ctx, u, kind, prev.GetNumber())
		if err != nil {
			return err
		}
		dated := proto.CloneOf(v)
		dated.AnnounceDate, dated.EffectiveDate = ann.String(), eff.String()
		rows = render.Compare(render.Texts(full, facts(full, all)), render.Texts(dated, facts(dated, all)))
	}
	if v := policy.ValidateAnnouncement(policy.Announcement{
		Today: today, AnnounceDate: ann, EffectiveDate: eff, LeadDays: policy.NoticeLeadDays(tenant),
		Major: req.GetMajorChange(), HasPrevious: prev != nil, ComparisonRows: len(rows), Others: policy.Declared(all),
	}); len(v) > 0 {
		return apierr.Invalid(v...)
	}
	v.State = announced
	v.AnnounceDate, v.EffectiveDate = ann.String(), eff.String()
	v.ChangeSummary, v.MajorChange = req.GetChangeSummary(), req.GetMajorChange()
	v.AnnounceTime = timestamppb.New(s.now())
	*out = v
	if *entry, err = s.freeze(ctx, tx, u, v, all); err != nil {
		return err
	}
	return announcementEvents(ctx, tx, u, v, eff, today)
}

// previous is the announced or archived version that v follows in time: for a draft the latest
// one, else the latest taking effect before v. Versions are ordered by date, not number, since
// archived ones may be imported in any order.
func previous(vs []*registryv1.PolicyVersion, v *registryv1.PolicyVersion) *registryv1.PolicyVersion {
	var p *registryv1.PolicyVersion
	for _, o := range vs {
		if o.GetState() == draft || o.GetNumber() == v.GetNumber() {
			continue
		}
		if v.GetState() != draft && o.GetEffectiveDate() >= v.GetEffectiveDate() {
			continue
		}
		if p == nil || o.GetEffectiveDate() > p.GetEffectiveDate() {
			p = o
		}
	}
	return p
}

func (s *Server) DiffPolicyVersions(ctx context.Context, req *registryv1.DiffPolicyVersionsRequest) (*registryv1.DiffPolicyVersionsResponse, error) {
	t, u, kind, n, err := parseVersion("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	if req.GetAgainst() < 0 {
		return nil, apierr.Invalid(apierr.Violation{Field: "against", Rule: "range", Description: "must be a version number"})
	}
	ts := s.store.Tenant(t)
	after, err := ts.GetVersion(ctx, u, kind, n)
	if err != nil {
		return nil, err
	}
	all, err := ts.PublishedVersions(ctx, u, kind)
	if err != nil {
		return nil, err
	}
	against := req.GetAgainst()
	if against == 0 {
		p := previous(all, after)
		if p == nil {
			return nil, apierr.Precondition("NO_PREVIOUS_VERSION", after.GetName()+" has no earlier announced version to compare with; pass against")
		}
		against = p.GetNumber()
	}
	before, err := ts.GetVersion(ctx, u, kind, against)
	if err != nil {
		return nil, err
	}
	if len(before.GetArticles()) == 0 {
		return nil, apierr.Precondition("NO_TEXT", before.GetName()+" is known by its period only: pipa holds no text to compare with")
	}
	return &registryv1.DiffPolicyVersionsResponse{Before: before.GetName(), After: after.GetName(),
		Rows: render.Compare(render.Texts(before, facts(before, all)), render.Texts(after, facts(after, all)))}, nil
}

func (s *Server) RenderPolicyVersion(ctx context.Context, req *registryv1.RenderPolicyVersionRequest) (*registryv1.RenderedPolicy, error) {
	if f := req.GetFormat(); f != "" && f != "html" && f != "text" {
		return nil, apierr.Invalid(apierr.Violation{Field: "format", Rule: "enum", Description: "must be html or text"})
	}
	v, err := s.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	t, u, kind, _, _ := parseVersion("name", req.GetName())
	ts := s.store.Tenant(t)
	all, err := ts.PublishedVersions(ctx, u, kind)
	if err != nil {
		return nil, err
	}
	doc := v.GetDocument()
	if doc == nil { // a draft, or a version without text: rendered now
		html, text, _ := render.Preview(v, facts(v, all))
		doc = &registryv1.PublishedDocument{Html: html, Text: text}
	}
	if req.GetFormat() == "text" {
		return &registryv1.RenderedPolicy{ContentType: "text/plain; charset=utf-8", Content: doc.GetText()}, nil
	}
	history, err := s.history(ctx, ts, t, u, kind)
	if err != nil {
		return nil, err
	}
	shown := proto.CloneOf(v)
	shown.Document = doc
	return &registryv1.RenderedPolicy{ContentType: "text/html; charset=utf-8", Content: render.Policy(render.PolicyPage{
		TenantID: t, TenantName: v.GetSnapshot().GetTenant().GetDisplayName(), UnitID: u,
		FullName: v.GetSnapshot().GetUnit().GetFullName(), Kind: kind, Version: shown,
		Draft: v.GetState() == draft, History: history,
	})}, nil
}
