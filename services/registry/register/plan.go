package register

import (
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// InspectionMonths is the CPO's inspection interval of the internal management plan (S-4-4:
// at least yearly).
const InspectionMonths = 12

// contentsFrom is when S-4-1's printing/copying and destruction contents apply (LAW.md marks the
// day INFERRED); before it a plan need not cover them.
var contentsFrom = policy.NewDate(2026, 10, 31)

// PlanContentTitle is each S-4-1 content in Korean.
var PlanContentTitle = map[registryv1.PlanContentKind]string{
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_ORGANISATION:    "개인정보 보호 조직의 구성 및 운영",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_CPO:             "개인정보 보호책임자의 자격요건 및 지정",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_ROLES:           "보호책임자와 취급자의 역할 및 책임",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_STAFF:           "취급자에 대한 관리·감독 및 교육",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_ACCESS_RIGHTS:   "접근 권한의 관리",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_ACCESS_CONTROL:  "접근 통제",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_ENCRYPTION:      "개인정보의 암호화 조치",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_LOGS:            "접속기록 보관 및 점검",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_MALWARE:         "악성프로그램 등 방지",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_VULNERABILITY:   "취약점 점검",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_PHYSICAL:        "물리적 안전조치",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_PRINTING:        "출력·복사 시 보호조치",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_DESTRUCTION:     "개인정보의 파기",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_BREACH_RESPONSE: "유출등 사고 대응",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_RISK_ANALYSIS:   "위험도 분석 및 대응",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_PROCESSORS:      "수탁자에 대한 관리·감독",
	registryv1.PlanContentKind_PLAN_CONTENT_KIND_PLAN_CHANGES:    "내부 관리계획의 수립·변경 및 승인",
}

// ValidatePlan checks an internal management plan (field names under "internal_plan.").
func ValidatePlan(p *registryv1.InternalPlan, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	if strings.TrimSpace(p.GetDisplayName()) == "" {
		vs.Add("internal_plan.display_name", "required", "the plan's name is required")
	}
	text(&vs, "internal_plan.display_name", p.GetDisplayName())
	if p.GetAdoptedDate() == "" {
		vs.Add("internal_plan.adopted_date", "S-4-1", "the day the plan was adopted by internal decision is required")
	}
	dateField(&vs, "internal_plan.adopted_date", p.GetAdoptedDate(), "S-4-1", today)
	if strings.TrimSpace(p.GetAdoptedBy()) == "" {
		vs.Add("internal_plan.adopted_by", "S-4-1", "name the internal decision that adopted the plan (e.g. its document number)")
	}
	text(&vs, "internal_plan.adopted_by", p.GetAdoptedBy())
	seen := map[registryv1.PlanContentKind]bool{}
	for i, c := range p.GetContents() {
		f := fmt.Sprintf("internal_plan.contents[%d]", i)
		switch {
		case PlanContentTitle[c.GetKind()] == "":
			vs.Add(f+".kind", "S-4-1", "a content of S-4-1 is required (got %d)", c.GetKind())
		case seen[c.GetKind()]:
			vs.Add(f+".kind", "unique", "%s is listed twice", c.GetKind())
		}
		seen[c.GetKind()] = true
		text(&vs, f+".article", c.GetArticle())
	}
	for i, r := range p.GetRevisions() {
		f := fmt.Sprintf("internal_plan.revisions[%d]", i)
		if r.GetDate() == "" {
			vs.Add(f+".date", "S-4-3", "the day of the revision is required")
		}
		dateField(&vs, f+".date", r.GetDate(), "S-4-3", today)
		if strings.TrimSpace(r.GetDescription()) == "" {
			vs.Add(f+".description", "S-4-3", "say what the revision changed")
		}
		text(&vs, f+".description", r.GetDescription())
		text(&vs, f+".approved_by", r.GetApprovedBy())
	}
	supervision(&vs, "internal_plan.inspections", p.GetInspections(), today)
	if m := p.GetTrainingMonths(); m < 0 || m > MaxSupervisionMonths {
		vs.Add("internal_plan.training_months", "range", "months from 0 (not set) to %d are required (got %d)", MaxSupervisionMonths, m)
	}
	for i, tr := range p.GetTrainings() {
		f := fmt.Sprintf("internal_plan.trainings[%d]", i)
		if tr.GetDate() == "" {
			vs.Add(f+".date", "S-4-2", "the day of the training is required")
		}
		dateField(&vs, f+".date", tr.GetDate(), "S-4-2", today)
		for _, x := range []struct{ field, value, what string }{
			{"audience", tr.GetAudience(), "who was trained"}, {"content", tr.GetContent(), "what was taught"}, {"evidence", tr.GetEvidence(), "where its evidence is kept"}} {
			if strings.TrimSpace(x.value) == "" {
				vs.Add(f+"."+x.field, "S-4-2", "say %s", x.what)
			}
			text(&vs, f+"."+x.field, x.value)
		}
		text(&vs, f+".method", tr.GetMethod())
	}
	return vs
}

// planDuties adds what an internal plan makes due: the S-4-1 contents it does not cover, the CPO's
// yearly inspection (S-4-4) and the staff's training at the body's interval (S-4-2).
func planDuties(add func(resource, rule, title string, due policy.Date), p *registryv1.InternalPlan, today policy.Date) {
	covered := map[registryv1.PlanContentKind]bool{}
	for _, c := range p.GetContents() {
		covered[c.GetKind()] = true
	}
	var missing []string
	for k := registryv1.PlanContentKind(1); PlanContentTitle[k] != ""; k++ {
		late := k == registryv1.PlanContentKind_PLAN_CONTENT_KIND_PRINTING || k == registryv1.PlanContentKind_PLAN_CONTENT_KIND_DESTRUCTION
		if !covered[k] && (!late || !today.Before(contentsFrom)) {
			missing = append(missing, PlanContentTitle[k])
		}
	}
	if len(missing) > 0 {
		add(p.GetName(), "S-4-1", fmt.Sprintf("내부 관리계획 포함사항 (%s): %s", p.GetDisplayName(), strings.Join(missing, ", ")), policy.Date{})
	}
	adopted, _ := policy.ParseDate(p.GetAdoptedDate())
	last := latest(adopted, p.GetInspections(), func(r *registryv1.SupervisionRecord) string { return r.GetDate() })
	add(p.GetName()+"#inspections", "S-4-4", fmt.Sprintf("개인정보 보호책임자의 내부 관리계획 이행 점검 (%s)", p.GetDisplayName()), last.AddMonths(InspectionMonths))
	if p.GetTrainingMonths() == 0 {
		add(p.GetName()+"#trainings", "S-4-2", fmt.Sprintf("개인정보 보호 교육 주기 설정 (%s)", p.GetDisplayName()), policy.Date{})
		return
	}
	last = latest(adopted, p.GetTrainings(), func(r *registryv1.Training) string { return r.GetDate() })
	add(p.GetName()+"#trainings", "S-4-2", fmt.Sprintf("개인정보 보호 교육 (%s)", p.GetDisplayName()), last.AddMonths(int(p.GetTrainingMonths())))
}

// latest is the latest of from and the records' dates.
func latest[R any](from policy.Date, rs []R, date func(R) string) policy.Date {
	for _, r := range rs {
		if d, err := policy.ParseDate(date(r)); err == nil && d.After(from) {
			from = d
		}
	}
	return from
}

// PlanDue is the body's internal management plan (S-4-1), owed by the body (tenantName) until a
// unit records one.
func PlanDue(have []*registryv1.InternalPlan, tenantName string) *registryv1.Obligation {
	if len(have) > 0 {
		return nil
	}
	return &registryv1.Obligation{Resource: tenantName, Rule: "S-4-1", Title: "내부 관리계획 수립·기록",
		State: registryv1.DeadlineState_DEADLINE_STATE_DUE}
}
