package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
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
		Number:        v.GetNumber(),
		Title:         v.GetTitle(),
		State:         v.GetState(),
		Standing:      v.GetStanding(),
		AnnounceDate:  v.GetAnnounceDate(),
		EffectiveDate: v.GetEffectiveDate(),
		EndDate:       v.GetEndDate(),
		Period:        periodLabel(v),
		Url:           PageURL(t, u, v.GetKind(), v.GetNumber()),
		OriginalUrl:   v.GetOriginalUrl(),
		MajorChange:   v.GetMajorChange(),
		ChangeSummary: v.GetChangeSummary(),
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

// published serves the version in force (number 0) or a given announced/archived version.
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
			return nil, apierr.NotFound(name + "/versions/" + strconv.Itoa(int(number)))
		}
		return nil, apierr.NotFound(name + " (no version in force)")
	}
	etag := publishedEtag(shown.GetNumber(), history)
	v, err := ts.GetVersion(ctx, u, kind, shown.GetNumber())
	if err != nil {
		return nil, err
	}
	v.EndDate, v.Standing = shown.GetEndDate(), shown.GetStanding()
	doc := render.Document{Version: v, History: history}
	out := &registryv1.PublishedPolicy{
		Kind:     kind,
		Html:     render.HTML(doc),
		Markdown: render.Markdown(doc),
		History:  history,
		Etag:     etag,
	}
	if snap := v.GetSnapshot(); snap != nil {
		out.TenantDisplayName = snap.GetTenant().GetDisplayName()
		out.UnitDisplayName = snap.GetUnit().GetDisplayName()
	}
	out.Version = proto.CloneOf(v)
	out.Version.Snapshot = nil
	return out, nil
}

// publishedEtag covers the shown version and the whole history (numbers, dates, standings):
// whatever the page shows.
func publishedEtag(shown int32, history []*registryv1.PolicyHistoryEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", shown)
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
