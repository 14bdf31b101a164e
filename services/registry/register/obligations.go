package register

import (
	"cmp"
	"fmt"
	"slices"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Registers are what a unit's registers hold, as Obligations reads them.
type Registers struct {
	Unit        string
	Files       []*registryv1.FileRegistrations
	Assessments []*registryv1.ImpactAssessment
	Evaluations []*registryv1.ProtectionEvaluation
	Processors  []*registryv1.Processor
	// Contracts by their processor's name.
	Contracts map[string]*registryv1.ProcessorContract
	// Notices by their contract's name, oldest first.
	Notices       map[string][]*registryv1.SubjectNotice
	InternalPlans []*registryv1.InternalPlan
	Officers      []*registryv1.Officer
	// Kind is the body's kind, for the CPO's grade (DEC-32-2).
	Kind registryv1.TenantKind
}

var kindTitle = map[registryv1.RegistrationKind]string{
	registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION:   "개인정보파일 등록",
	registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE:         "개인정보파일 변경등록",
	registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION: "개인정보파일 등록 삭제",
}

// Obligations lists what r makes due and is not done, as of today.
func Obligations(r Registers, today policy.Date) []*registryv1.Obligation {
	var out []*registryv1.Obligation
	add := func(resource, rule, title string, due policy.Date) {
		d := Deadline{Due: due, State: state(due, false, today)}
		o := &registryv1.Obligation{Resource: resource, Rule: rule, Title: title, State: d.State, Unit: r.Unit,
			DaysLeft: d.DaysLeft(today)}
		if !due.IsZero() {
			o.DueDate = due.String()
		}
		out = append(out, o)
	}
	assessed := map[string]bool{}
	for _, a := range r.Assessments {
		for _, f := range a.GetFiles() {
			assessed[f] = true
		}
	}
	for _, fr := range r.Files {
		f := fr.GetFile()
		// PIPA-32-1: a file with no registration event recorded is owed one (or an exemption).
		if len(fr.GetRegistrations()) == 0 {
			add(f.GetName(), "PIPA-32-1", fmt.Sprintf("개인정보파일 등록 여부 기록 (%s)", f.GetDisplayName()), policy.Date{})
		}
		for _, g := range fr.GetRegistrations() {
			if d := RegistrationDeadline(g, today); d.State == registryv1.DeadlineState_DEADLINE_STATE_DUE || d.State == registryv1.DeadlineState_DEADLINE_STATE_OVERDUE {
				add(g.GetName(), "DEC-34-1", fmt.Sprintf("%s (%s)", kindTitle[g.GetKind()], f.GetDisplayName()), d.Due)
			}
		}
		// DEC-35: a file over a threshold is assessed before its design is complete (PIPA-33-2).
		if fr.GetAssessmentRequired() && !assessed[f.GetName()] {
			add(f.GetName(), "DEC-35", fmt.Sprintf("개인정보 영향평가 (%s: %s)", f.GetDisplayName(), fr.GetAssessmentThreshold()), policy.Date{})
		}
	}
	for _, a := range r.Assessments {
		report, _ := policy.ParseDate(a.GetReportDate())
		goLive, _ := policy.ParseDate(a.GetGoLiveDate())
		// DEC-38-2: the report goes to PIPC before go-live and within two months of its receipt.
		if a.GetSubmitDate() == "" && (!report.IsZero() || !goLive.IsZero()) {
			due := report.AddMonths(SubmitMonths)
			if report.IsZero() || (!goLive.IsZero() && goLive.AddDays(-1).Before(due)) {
				due = goLive.AddDays(-1)
			}
			add(a.GetName(), "DEC-38-2", fmt.Sprintf("영향평가서 제출 (%s)", a.GetDisplayName()), due)
		}
		improvementDuties(add, "DEC-38-2", a.GetName(), a.GetDisplayName(), a.GetImprovements(), report)
	}
	for _, p := range r.Processors {
		c := r.Contracts[p.GetName()]
		contractDuties(add, p, c, r.Notices[c.GetName()], today)
	}
	for _, p := range r.InternalPlans {
		planDuties(add, p, today)
	}
	cpoDuties(add, r.Kind, r.Officers)
	for _, e := range r.Evaluations {
		improvementDuties(add, "PIPA-11의2", e.GetName(), fmt.Sprintf("%d년 %s", e.GetYear(), cmp.Or(e.GetDisplayName(), "개인정보 보호수준 평가")),
			e.GetImprovements(), policy.Date{})
	}
	return out
}

// improvementDuties adds each open improvement, done by its due date under rule, and, where the
// report's receipt is known (an assessment), its result reported within a year of it (DEC-38-2).
func improvementDuties(add func(resource, rule, title string, due policy.Date), rule, owner, label string, is []*registryv1.Improvement, report policy.Date) {
	for i, im := range is {
		res := fmt.Sprintf("%s#improvements[%d]", owner, i)
		if im.GetDoneDate() == "" && !im.GetDone() {
			due, _ := policy.ParseDate(im.GetDueDate())
			add(res, rule, fmt.Sprintf("개선조치 (%s: %s)", label, im.GetDescription()), due)
		}
		if !report.IsZero() && im.GetReportDate() == "" {
			add(res, "DEC-38-2", fmt.Sprintf("개선조치 결과 제출 (%s: %s)", label, im.GetDescription()), report.AddMonths(12*ReportYears))
		}
	}
}

// Sort orders obligations as the list shows them: overdue first, then by due date (undated
// last), then by resource.
func Sort(os []*registryv1.Obligation) {
	rank := func(o *registryv1.Obligation) int {
		if o.GetState() == registryv1.DeadlineState_DEADLINE_STATE_OVERDUE {
			return 0
		}
		return 1
	}
	undated := func(o *registryv1.Obligation) int {
		if o.GetDueDate() == "" {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(os, func(a, b *registryv1.Obligation) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)),
			cmp.Compare(undated(a), undated(b)), cmp.Compare(a.GetDueDate(), b.GetDueDate()),
			cmp.Compare(a.GetResource(), b.GetResource()), cmp.Compare(a.GetRule(), b.GetRule()))
	})
}

// EvaluationDue is the yearly 보호수준 평가 of a local government (PIPA-11의2): owed by the body
// (tenantName) for this year until a record of it exists in any unit.
func EvaluationDue(kind registryv1.TenantKind, have []*registryv1.ProtectionEvaluation, tenantName string, today policy.Date) *registryv1.Obligation {
	if kind != registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT {
		return nil
	}
	for _, e := range have {
		if int(e.GetYear()) == today.Year() {
			return nil
		}
	}
	return &registryv1.Obligation{Resource: tenantName, Rule: "PIPA-11의2",
		Title: fmt.Sprintf("%d년 개인정보 보호수준 평가 (자체점검 결과·증빙 제출)", today.Year()), State: registryv1.DeadlineState_DEADLINE_STATE_DUE}
}
