package register

import (
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Periods of DEC-38-2 after the assessor's report is received: the report goes to PIPC within two
// months, the results of the improvements within a year.
const (
	SubmitMonths = 2
	ReportYears  = 1
)

// firstYear is the first year of PIPA (2011); an assessment or evaluation before it is a typo.
const firstYear = 2011

// ValidateAssessment checks an assessment of unit (tenant t, unit u). files are the unit's file
// names that exist.
func ValidateAssessment(a *registryv1.ImpactAssessment, t, u string, files map[string]bool, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	if strings.TrimSpace(a.GetDisplayName()) == "" {
		vs.Add("assessment.display_name", "required", "the assessment's name is required")
	}
	text(&vs, "assessment.display_name", a.GetDisplayName())
	if len(a.GetFiles()) == 0 {
		vs.Add("assessment.files", "PIPA-33-1", "name the assessed personal-information files of the unit")
	}
	for i, f := range a.GetFiles() {
		if !names.Files.In(t, u, f) || !files[f] {
			vs.Add(fmt.Sprintf("assessment.files[%d]", i), "exists", "%q is not a file of %s", f, names.Unit(t, u))
		}
	}
	year(&vs, "assessment.year", a.GetYear(), today)
	start := dateField(&vs, "assessment.start_date", a.GetStartDate(), "PIPA-33-1", today)
	report := dateField(&vs, "assessment.report_date", a.GetReportDate(), "DEC-38-2", today)
	submit := dateField(&vs, "assessment.submit_date", a.GetSubmitDate(), "DEC-38-2", today)
	plannedField(&vs, "assessment.go_live_date", a.GetGoLiveDate())
	if !start.IsZero() && !report.IsZero() && report.Before(start) {
		vs.Add("assessment.report_date", "DEC-38-2", "the report (%s) comes before the assessment started (%s)", a.GetReportDate(), a.GetStartDate())
	}
	if !submit.IsZero() && report.IsZero() {
		vs.Add("assessment.report_date", "DEC-38-2", "a report submitted to PIPC was received first: give its date")
	}
	if !submit.IsZero() && !report.IsZero() && submit.Before(report) {
		vs.Add("assessment.submit_date", "DEC-38-2", "submitted (%s) before the report was received (%s)", a.GetSubmitDate(), a.GetReportDate())
	}
	text(&vs, "assessment.assessor", a.GetAssessor())
	text(&vs, "assessment.findings", a.GetFindings())
	text(&vs, "assessment.items", a.GetItems())
	improvements(&vs, "assessment.improvements", a.GetImprovements(), today)
	return vs
}

// ValidateEvaluation checks a 보호수준 평가 (PIPA-11의2).
func ValidateEvaluation(e *registryv1.ProtectionEvaluation, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	year(&vs, "evaluation.year", e.GetYear(), today)
	submit := dateField(&vs, "evaluation.submit_date", e.GetSubmitDate(), "DEC-13의2", today)
	result := dateField(&vs, "evaluation.result_date", e.GetResultDate(), "PIPA-11의2", today)
	if !submit.IsZero() && !result.IsZero() && result.Before(submit) {
		vs.Add("evaluation.result_date", "PIPA-11의2", "the result (%s) comes before the submission (%s)", e.GetResultDate(), e.GetSubmitDate())
	}
	text(&vs, "evaluation.display_name", e.GetDisplayName())
	text(&vs, "evaluation.grade", e.GetGrade())
	improvements(&vs, "evaluation.improvements", e.GetImprovements(), today)
	return vs
}

func year(vs *apierr.Violations, field string, y int32, today policy.Date) {
	this := int32(today.Year())
	if y < firstYear || y > this {
		vs.Add(field, "range", "a year from %d to %d is required (got %d)", firstYear, this, y)
	}
}

func improvements(vs *apierr.Violations, field string, is []*registryv1.Improvement, today policy.Date) {
	for i, im := range is {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(im.GetDescription()) == "" {
			vs.Add(f+".description", "required", "say what is to be improved")
		}
		text(vs, f+".description", im.GetDescription())
		plannedField(vs, f+".due_date", im.GetDueDate())
		done := dateField(vs, f+".done_date", im.GetDoneDate(), "DEC-38-2", today)
		rep := dateField(vs, f+".report_date", im.GetReportDate(), "DEC-38-2", today)
		if !rep.IsZero() && done.IsZero() && !im.GetDone() {
			vs.Add(f+".done_date", "DEC-38-2", "an improvement reported to PIPC is done: give the date")
		}
		if !rep.IsZero() && !done.IsZero() && rep.Before(done) {
			vs.Add(f+".report_date", "DEC-38-2", "reported (%s) before it was done (%s)", im.GetReportDate(), im.GetDoneDate())
		}
	}
}
