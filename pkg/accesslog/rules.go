package accesslog

import "github.com/pipa-kr/pipa/pkg/names"

// Rule says how one method's successful calls are recorded.
type Rule struct {
	// Action is the task performed (S-2-3); empty means the full gRPC method name.
	Action string
	// Log names the unit whose ledger records the call; ok false records nothing.
	Log func(req any) (tenant, unit string, ok bool)
	// Subjects are whose data was read (S-2-3): resource names, never a person's name in clear.
	// Each becomes one ACCESS entry (so a long list can be split to fit one); none records nothing.
	Subjects func(req, resp any) []string
}

// Rules are a service's rules by full method name (e.g. "/pipa.registry.v1.RegistryService/GetOfficer").
// A method without a rule is not recorded.
type Rules map[string]Rule

// Merge returns the union of rs, as a process serving several services needs.
func Merge(rs ...Rules) Rules {
	out := Rules{}
	for _, r := range rs {
		for m, rule := range r {
			out[m] = rule
		}
	}
	return out
}

// ByName is the rule of a method whose request names a resource in a unit, tenants/{t}/units/{u}/…
// (a Get's name, a List's parent): the call is logged in that unit's ledger, and its subject is
// the name followed by suffix (a List's collection, e.g. "/officers").
func ByName[Req any](name func(Req) string, suffix string) Rule {
	get := func(req any) string {
		r, ok := req.(Req)
		if !ok {
			return ""
		}
		return name(r)
	}
	return Rule{
		Log: func(req any) (string, string, bool) { return names.UnitOf(get(req)) },
		Subjects: func(req, _ any) []string {
			return []string{get(req) + suffix}
		},
	}
}
