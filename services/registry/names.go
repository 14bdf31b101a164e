package registry

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// idPattern is the shape of every id a client chooses (tenant, unit, officer, site, ...): a
// lowercase slug, so that names are stable URL paths.
var idPattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func checkID(vs *apierr.Violations, field, id string) {
	if !idPattern.MatchString(id) {
		vs.Add(field, "format", "must be a lowercase slug (AIP-122): a letter, then letters, digits or '-', not ending in '-', at most 63 characters (got %q)", id)
	}
}

func badName(field, name, want string) error {
	return apierr.Invalid(apierr.Violation{Field: field, Rule: "format",
		Description: "must be a resource name of the form " + want + " (got \"" + name + "\")"})
}

// split checks that name has the literal segments of pattern (e.g. "tenants/*/units/*") and returns
// the wildcard segments.
func split(field, name, pattern string) ([]string, error) {
	ps, ns := strings.Split(pattern, "/"), strings.Split(name, "/")
	if len(ps) != len(ns) {
		return nil, badName(field, name, pattern)
	}
	var vals []string
	for i, p := range ps {
		if p == "*" {
			if !idPattern.MatchString(ns[i]) {
				return nil, badName(field, name, pattern)
			}
			vals = append(vals, ns[i])
		} else if p != ns[i] {
			return nil, badName(field, name, pattern)
		}
	}
	return vals, nil
}

func tenantName(t string) string  { return "tenants/" + t }
func unitName(t, u string) string { return "tenants/" + t + "/units/" + u }
func parseTenant(field, name string) (string, error) {
	v, err := split(field, name, "tenants/*")
	if err != nil {
		return "", err
	}
	return v[0], nil
}

func parseUnit(field, name string) (t, u string, err error) {
	v, err := split(field, name, "tenants/*/units/*")
	if err != nil {
		return "", "", err
	}
	return v[0], v[1], nil
}

// parseChild parses tenants/{t}/units/{u}/{kind}/{id}.
func parseChild(field, name string, kind pg.Kind) (t, u, id string, err error) {
	v, err := split(field, name, "tenants/*/units/*/"+string(kind)+"/*")
	if err != nil {
		return "", "", "", err
	}
	return v[0], v[1], v[2], nil
}

// parsePolicy parses tenants/{t}/units/{u}/policies/{privacy|cctv}.
func parsePolicy(field, name string) (t, u string, kind registryv1.PolicyKind, err error) {
	ns := strings.Split(name, "/")
	if len(ns) != 6 || ns[4] != "policies" {
		return "", "", 0, badName(field, name, "tenants/*/units/*/policies/{privacy|cctv}")
	}
	kind, ok := policy.KindFromSegment(ns[5])
	if !ok {
		return "", "", 0, badName(field, name, "tenants/*/units/*/policies/{privacy|cctv}")
	}
	t, u, err = parseUnit(field, strings.Join(ns[:4], "/"))
	return t, u, kind, err
}

// parseVersion parses tenants/{t}/units/{u}/policies/{kind}/versions/{n}.
func parseVersion(field, name string) (t, u string, kind registryv1.PolicyKind, n int32, err error) {
	ns := strings.Split(name, "/")
	want := "tenants/*/units/*/policies/{privacy|cctv}/versions/{number}"
	if len(ns) != 8 || ns[6] != "versions" {
		return "", "", 0, 0, badName(field, name, want)
	}
	num, perr := strconv.ParseInt(ns[7], 10, 32)
	if perr != nil || num < 1 {
		return "", "", 0, 0, badName(field, name, want)
	}
	t, u, kind, err = parsePolicy(field, strings.Join(ns[:6], "/"))
	return t, u, kind, int32(num), err
}

func policyName(t, u string, kind registryv1.PolicyKind) string {
	return unitName(t, u) + "/policies/" + policy.Segment(kind)
}
