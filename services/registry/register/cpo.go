package register

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// CPOMinGrade is the lowest civil-service grade (N급; lower N is higher) DEC-32-2 allows a CPO of
// the kind of body, and whether LAW.md gives one pipa can check. A local government's CPO is of
// grade 4 or higher (시·군·구; a 시·도 needs grade 3, which TenantKind does not tell apart, so
// grade 4 is what is enforced). For the other kinds LAW.md ties the CPO to the head's rank or a
// post (central agencies, schools, other public bodies), which a grade does not show.
func CPOMinGrade(kind registryv1.TenantKind) (int, bool) {
	if kind == registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT {
		return 4, true
	}
	return 0, false
}

var gradeRE = regexp.MustCompile(`([1-9])\s*급`)

// ParseGrade reads the N of "N급" in an officer's grade, e.g. 4 of "지방서기관(4급)".
func ParseGrade(s string) (int, bool) {
	m := gradeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

// IsCPO says whether the officer holds the CPO role.
func IsCPO(o *registryv1.Officer) bool {
	return slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CPO)
}

// ValidateCPO refuses to make an officer CPO whose stated grade is below DEC-32-2's minimum for
// the body. A grade not stated (or not as N급) is not refused: the obligations list asks for it.
func ValidateCPO(o *registryv1.Officer, kind registryv1.TenantKind) apierr.Violations {
	var vs apierr.Violations
	lowest, ok := CPOMinGrade(kind)
	if !IsCPO(o) || !ok {
		return vs
	}
	if n, ok := ParseGrade(o.GetGrade()); ok && n > lowest {
		vs.Add("officer.grade", "DEC-32-2", "a local government's CPO is a grade-%d (%d급) or higher official; %q is lower", lowest, lowest, o.GetGrade())
	}
	return vs
}

// cpoDuties adds, for a body whose CPO grade DEC-32-2 sets, each CPO whose grade is not recorded
// as N급: the list asks for it to be checked.
func cpoDuties(add func(resource, rule, title string, due policy.Date), kind registryv1.TenantKind, officers []*registryv1.Officer) {
	lowest, ok := CPOMinGrade(kind)
	if !ok {
		return
	}
	for _, o := range officers {
		if _, ok := ParseGrade(o.GetGrade()); IsCPO(o) && !ok {
			add(o.GetName(), "DEC-32-2", fmt.Sprintf("개인정보 보호책임자 직급 기록 (%s %s: %d급 이상)", o.GetTitle(), o.GetDisplayName(), lowest), policy.Date{})
		}
	}
}
