package render

import (
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Compare builds the before/after table (신·구 대조표, STD-21, WG26-24) of two versions of a policy:
// one row per article whose heading or text differs, matched by item key so that renumbering alone
// is no change, in catalogue order. The article on the policy's changes is left out. A row names the article as numbered in the after-version, or in
// the before-version for a removed one.
func Compare(before, after *registryv1.PolicyVersion) []*registryv1.ComparisonRow {
	old := map[string]Article{}
	for _, a := range Articles(before) {
		old[a.Key] = a
	}
	cur := map[string]Article{}
	for _, a := range Articles(after) {
		cur[a.Key] = a
	}
	kind := after.GetKind()
	if kind == registryv1.PolicyKind_POLICY_KIND_UNSPECIFIED {
		kind = before.GetKind()
	}
	var rows []*registryv1.ComparisonRow
	for _, it := range policy.Items(kind) {
		if it.Key == "changes" {
			// Generated from the versions' own dates and history: it differs between any two
			// versions and says nothing about what changed.
			continue
		}
		b, inBefore := old[it.Key]
		a, inAfter := cur[it.Key]
		switch {
		case inBefore && inAfter:
			if a.Heading == b.Heading && a.Body == b.Body {
				continue
			}
			rows = append(rows, &registryv1.ComparisonRow{Article: a.Title(), Before: comparedText(b, a), After: comparedText(a, b)})
		case inAfter:
			rows = append(rows, &registryv1.ComparisonRow{Article: a.Title(), After: a.Body})
		case inBefore:
			rows = append(rows, &registryv1.ComparisonRow{Article: b.Title(), Before: b.Body})
		}
	}
	return rows
}

// comparedText is an article's text in a row, led by its heading when the heading itself changed.
func comparedText(a, other Article) string {
	if a.Heading != other.Heading {
		return a.Title() + "\n\n" + a.Body
	}
	return a.Body
}
