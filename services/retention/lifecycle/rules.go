package lifecycle

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Registry is what the retention rules ask of the registry, with the caller's credential.
type Registry interface {
	// Site is a CCTV site by name; an apierr NotFound when the registry has none.
	Site(ctx context.Context, name string) (*registryv1.Site, error)
	// FileExists reports whether the registry has the personal-information file.
	FileExists(ctx context.Context, name string) (bool, error)
}

// Records is what holds and items ask of the records other services keep, with the caller's
// credential: each an apierr NotFound when there is no such record.
type Records interface {
	Request(ctx context.Context, name string) (*requestsv1.Request, error)
	Entry(ctx context.Context, name string) (*ledgerv1.Entry, error)
}

// CheckResource checks what a new rule r of the tenant's unit covers: a site (or one of its
// zones) or file the registry has, or nothing for a category of the platform's records. A site's
// period is its retention days, a zone's the zone's (STD-41-2): it sets r.PeriodDays.
func CheckResource(ctx context.Context, reg Registry, vs *apierr.Violations, tenant, unit string, r *retentionv1.Rule) error {
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
		site, err := reg.Site(ctx, res)
		if apierr.KindOf(err) == apierr.KindNotFound {
			vs.Add("rule.resource", "STD-41-2", "no such site: %s", res)
			return nil
		}
		if err != nil {
			return err
		}
		days, ok := RetentionDays(site, r.GetZone())
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
		ok, err := reg.FileExists(ctx, res)
		if err == nil && !ok {
			vs.Add("rule.resource", "STD-60", "no such file: %s", res)
		}
		return err
	default:
		if res != "" {
			vs.Add("rule.resource", "format", "a rule for a category of the platform's records covers no single resource: leave it empty")
		}
	}
	return nil
}

// RetentionDays is a site rule's period as the registry's site sets it: for a zone, the zone's
// retention days (ok is false when the site has no such zone); otherwise the site's (STD-41-2).
func RetentionDays(site *registryv1.Site, zone string) (days int32, ok bool) {
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

// RecordedName is what a site rule's records call its recordings: the site's name, and its zone.
func RecordedName(site, zone string) string {
	if zone == "" {
		return site
	}
	return site + " " + zone
}

// ruleFields are the paths an update may change.
var ruleFields = []string{"display_name", "period_days", "clock_start", "action", "auto_delete_cycle", "method", "basis"}

// RuleMask is an update's field mask: the paths it changes, all of them when the mask is empty.
type RuleMask struct {
	paths []string
	whole bool
}

// NewRuleMask checks an update's paths: a rule's target, resource and zone are fixed at creation.
func NewRuleMask(paths []string) (RuleMask, error) {
	if len(paths) == 0 {
		return RuleMask{paths: ruleFields, whole: true}, nil
	}
	var vs apierr.Violations
	paths = slices.Clone(paths)
	fields := (&retentionv1.Rule{}).ProtoReflect().Descriptor().Fields()
	for i, p := range paths {
		// A REST client names the fields as the JSON does (updateMask=autoDeleteCycle, AIP-161),
		// as the registry's and the ledger's updates take them.
		if fd := fields.ByJSONName(p); fd != nil {
			p = string(fd.Name())
			paths[i] = p
		}
		switch {
		case p == "target" || p == "resource" || p == "zone":
			vs.Add("update_mask", "immutable", "%s is fixed at creation: delete the rule and create another", p)
		case !slices.Contains(ruleFields, p):
			vs.Add("update_mask", "format", "unknown or output-only field %q; writable: %s", p, strings.Join(ruleFields, ", "))
		}
	}
	return RuleMask{paths: paths}, vs.Err()
}

// Update sets r's fields of the mask from in and checks the result. A site rule's period is the
// site's (or its zone's) retention days (STD-41-2): it is changed in the registry, not here.
func (m RuleMask) Update(r, in *retentionv1.Rule) error {
	site := r.GetTarget() == retentionv1.RuleTarget_RULE_TARGET_SITE
	for _, p := range m.paths {
		switch p {
		case "display_name":
			r.DisplayName = in.GetDisplayName()
		case "period_days":
			if site && m.whole {
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
	ValidateRule(&vs, r)
	return vs.Err()
}
