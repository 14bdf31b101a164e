package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// PageURL is the public page of a policy version.
func PageURL(t, u string, kind registryv1.PolicyKind, n int32) string {
	return fmt.Sprintf("/p/%s/%s/%s/versions/%d", t, u, policy.Segment(kind), n)
}

// history lists the policy's announced and archived versions with their periods, oldest first.
func (s *Server) history(ctx context.Context, ts *pg.TenantStore, t, u string, kind registryv1.PolicyKind) ([]*registryv1.PolicyHistoryEntry, error) {
	pub, err := ts.PublishedVersions(ctx, u, kind)
	if err != nil {
		return nil, err
	}
	s.setStanding(pub)
	// In time order: archived versions may have been imported in any order.
	slices.SortStableFunc(pub, func(a, b *registryv1.PolicyVersion) int {
		return cmp.Or(strings.Compare(a.GetEffectiveDate(), b.GetEffectiveDate()), cmp.Compare(a.GetNumber(), b.GetNumber()))
	})
	out := make([]*registryv1.PolicyHistoryEntry, 0, len(pub))
	for _, v := range pub {
		out = append(out, historyEntry(t, u, v))
	}
	return out, nil
}

func historyEntry(t, u string, v *registryv1.PolicyVersion) *registryv1.PolicyHistoryEntry {
	return &registryv1.PolicyHistoryEntry{
		Number:         v.GetNumber(),
		Title:          v.GetTitle(),
		State:          v.GetState(),
		Standing:       v.GetStanding(),
		AnnounceDate:   v.GetAnnounceDate(),
		EffectiveDate:  v.GetEffectiveDate(),
		EndDate:        v.GetEndDate(),
		Period:         periodLabel(v),
		Url:            PageURL(t, u, v.GetKind(), v.GetNumber()),
		OriginalUrl:    v.GetOriginalUrl(),
		MajorChange:    v.GetMajorChange(),
		ChangeSummary:  v.GetChangeSummary(),
		HasDocument:    v.GetDocument() != nil,
		DocumentSha256: v.GetDocument().GetHtmlSha256(),
		LedgerEntry:    v.GetDocument().GetLedgerEntry(),
	}
}

func (s *Server) GetPublishedPolicy(ctx context.Context, req *registryv1.GetPublishedPolicyRequest) (*registryv1.PublishedPolicy, error) {
	return s.published(ctx, req.GetTenant(), req.GetUnit(), req.GetKind(), 0)
}

func (s *Server) GetPublishedPolicyVersion(ctx context.Context, req *registryv1.GetPublishedPolicyVersionRequest) (*registryv1.PublishedPolicy, error) {
	if req.GetNumber() < 1 {
		return nil, apierr.Invalid(apierr.Violation{Field: "number", Rule: "range", Description: "must be a version number, 1 or more"})
	}
	return s.published(ctx, req.GetTenant(), req.GetUnit(), req.GetKind(), req.GetNumber())
}

// published serves the version in force (number 0) or a given announced or imported version:
// its frozen document as published, in the page of the version history.
func (s *Server) published(ctx context.Context, t, u, seg string, number int32) (*registryv1.PublishedPolicy, error) {
	var vs apierr.Violations
	names.CheckID(&vs, "tenant", t)
	names.CheckID(&vs, "unit", u)
	kind, ok := policy.KindFromSegment(seg)
	if !ok {
		vs.Add("kind", "enum", "must be privacy or cctv (got %q)", seg)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	name := policyName(t, u, kind)
	ts := s.store.Tenant(t)
	history, err := s.history(ctx, ts, t, u, kind)
	if err != nil {
		return nil, err
	}
	var shown *registryv1.PolicyHistoryEntry
	for _, h := range history {
		if (number == 0 && h.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE) || h.GetNumber() == number {
			shown = h
		}
	}
	if shown == nil && number == 0 {
		// Before a unit's first version takes effect, its page shows the announcement (WG26-24:
		// announce before the policy applies).
		for _, h := range history {
			if h.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_UPCOMING {
				shown = h
				break
			}
		}
	}
	if shown == nil {
		if number != 0 {
			return nil, apierr.NotFound(names.Version(t, u, seg, number))
		}
		return nil, apierr.NotFound(name + " (no version in force)")
	}
	v, err := ts.GetVersion(ctx, u, kind, shown.GetNumber())
	if err != nil {
		return nil, err
	}
	v.EndDate, v.Standing = shown.GetEndDate(), shown.GetStanding()
	unit, err := ts.GetUnit(ctx, u)
	if err != nil {
		return nil, err
	}
	tenant, err := ts.Get(ctx)
	if err != nil {
		return nil, err
	}
	var prev *registryv1.PolicyHistoryEntry
	for _, h := range history {
		if h.GetEffectiveDate() < v.GetEffectiveDate() && h.GetNumber() != v.GetNumber() {
			prev = h // history is in time order: the last one before v
		}
	}
	page := render.PolicyPage{TenantID: t, TenantName: tenant.GetDisplayName(), UnitID: u, FullName: unit.GetFullName(),
		Kind: kind, Version: v, Current: number == 0, History: history, LastChange: v.GetComparison(), Previous: prev}
	out := &registryv1.PublishedPolicy{
		TenantDisplayName: tenant.GetDisplayName(),
		UnitDisplayName:   unit.GetDisplayName(),
		FullName:          unit.GetFullName(),
		Kind:              kind,
		Html:              render.Policy(page),
		History:           history,
		LastChange:        v.GetComparison(),
		Etag:              publishedEtag(shown.GetNumber(), number == 0, unit.GetFullName(), history),
	}
	out.Version = proto.CloneOf(v)
	out.Version.Snapshot = nil
	return out, nil
}

// publishedEtag covers the shown version, which page it is on, the unit's name and the whole
// history (numbers, dates, standings, hashes and ledger entries): whatever the page shows.
func publishedEtag(shown int32, current bool, fullName string, history []*registryv1.PolicyHistoryEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %t %s\n", shown, current, fullName)
	for _, e := range history {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		h.Write(b)
		h.Write([]byte{0})
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

func (s *Server) GetSiteSign(ctx context.Context, req *registryv1.GetSiteSignRequest) (*registryv1.SiteSign, error) {
	site, err := siteKind.get(ctx, s, req.GetName())
	if err != nil {
		return nil, err
	}
	t, u, _, _ := names.Sites.Parse("name", req.GetName())
	// The sign's manager and contractor come from the site's unit or the units above it (a
	// library office managing its branches), never from a sibling department.
	ts := s.store.Tenant(t)
	path, err := ts.UnitPath(ctx, u)
	if err != nil {
		return nil, err
	}
	unit, err := ts.GetUnit(ctx, u)
	if err != nil {
		return nil, err
	}
	snap := &registryv1.UnitSnapshot{Unit: unit}
	if err := listAll(ctx, ts, officerKind, path, &snap.Officers); err != nil {
		return nil, err
	}
	if err := listAll(ctx, ts, processorKind, path, &snap.Processors); err != nil {
		return nil, err
	}
	return render.Sign(site, snap), nil
}

// periodLabel is the version's period as the seeds publish it ("2021. 12. 06. ~ 2024. 01. 15.").
func periodLabel(v *registryv1.PolicyVersion) string {
	eff, err := policy.ParseDate(v.GetEffectiveDate())
	if err != nil {
		return ""
	}
	end, _ := policy.ParseDate(v.GetEndDate())
	return policy.PeriodLabel(eff, end)
}

// GetPublicIndex lists a body's units in tree order with the policy each publishes: the version in
// force, or else the one announced to take effect.
func (s *Server) GetPublicIndex(ctx context.Context, req *registryv1.GetPublicIndexRequest) (*registryv1.PublicIndex, error) {
	var vs apierr.Violations
	names.CheckID(&vs, "tenant", req.GetTenant())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	t := req.GetTenant()
	ts := s.store.Tenant(t)
	tenant, err := ts.Get(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := ts.AllPublished(ctx)
	if err != nil {
		return nil, err
	}
	links := map[string][]*registryv1.PublicPolicyLink{}
	for _, p := range pub {
		s.setStanding(p.Versions)
		var shown *registryv1.PolicyVersion
		for _, v := range p.Versions {
			switch v.GetStanding() {
			case registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE:
				shown = v
			case registryv1.PolicyStanding_POLICY_STANDING_UPCOMING:
				if shown == nil {
					shown = v
				}
			}
		}
		if shown == nil {
			continue // only past versions: nothing in force to link
		}
		links[p.Unit] = append(links[p.Unit], &registryv1.PublicPolicyLink{Kind: p.Kind, Title: shown.GetTitle(),
			Url: "/p/" + t + "/" + p.Unit + "/" + policy.Segment(p.Kind), Number: shown.GetNumber(),
			Standing: shown.GetStanding(), EffectiveDate: shown.GetEffectiveDate()})
	}
	out := &registryv1.PublicIndex{Tenant: t, DisplayName: tenant.GetDisplayName(), HomepageUrl: tenant.GetHomepageUrl()}
	h := sha256.New()
	depth := map[string]int32{} // tree order lists a parent before its children
	for token := ""; ; {
		units, next, err := ts.ListUnits(ctx, 500, token)
		if err != nil {
			return nil, err
		}
		for _, un := range units {
			_, id, _ := names.ParseUnit("unit", un.GetName())
			if p := un.GetParent(); p != "" {
				depth[id] = depth[names.Last(p)] + 1
			}
			ls := links[id]
			slices.SortFunc(ls, func(a, b *registryv1.PublicPolicyLink) int { return cmp.Compare(a.GetKind(), b.GetKind()) })
			pu := &registryv1.PublicUnit{Unit: id, DisplayName: un.GetDisplayName(), FullName: un.GetFullName(),
				Depth: depth[id], Policies: ls}
			out.Units = append(out.Units, pu)
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(pu)
			h.Write(b)
		}
		if token = next; token == "" {
			break
		}
	}
	fmt.Fprint(h, tenant.GetDisplayName())
	out.Etag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	return out, nil
}

// ListPublicBodies lists the tenants by id, each with its name only: the way into their indexes.
func (s *Server) ListPublicBodies(ctx context.Context, req *registryv1.ListPublicBodiesRequest) (*registryv1.ListPublicBodiesResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	ts, next, err := s.store.ListTenants(ctx, true, nil, size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &registryv1.ListPublicBodiesResponse{NextPageToken: next}
	for _, t := range ts {
		id, _ := names.ParseTenant("name", t.GetName())
		out.Bodies = append(out.Bodies, &registryv1.PublicIndex{Tenant: id, DisplayName: t.GetDisplayName(), HomepageUrl: t.GetHomepageUrl()})
	}
	return out, nil
}
