package register

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

var today = policy.NewDate(2026, 12, 7)

func rules(vs apierr.Violations) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Field+" "+v.Rule)
	}
	return out
}

// DEC-34-1 / STD-53-4: registration, change and deregistration are due 60 days after the event,
// the event's day not counted; overdue the day after; done once filed.
func TestRegistrationDeadline(t *testing.T) {
	r := &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: "2026-10-08"}
	d := RegistrationDeadline(r, today)
	require.Equal(t, "2026-12-07", d.Due.String())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, d.State, "due on its last day")
	require.Equal(t, int32(0), d.DaysLeft(today))

	late := policy.NewDate(2026, 12, 8)
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, RegistrationDeadline(r, late).State)
	require.Equal(t, int32(-1), RegistrationDeadline(r, late).DaysLeft(late))

	r.FiledDate, r.PipcNumber = "2026-12-09", "1"
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DONE, RegistrationDeadline(r, late).State, "filed late is done")

	// PIPA-32-2: an exemption has no deadline.
	ex := &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION,
		Exemption: registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_SIMPLE_TASK}
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_NONE, RegistrationDeadline(ex, today).State)
}

// PIPA-32-2 / DEC-33-2: an exemption names its ground, and only an exemption does; it is never
// filed.
func TestExemption(t *testing.T) {
	require.Empty(t, ValidateRegistration(&registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION,
		Exemption: registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_SIMPLE_TASK}, today))
	require.Equal(t, []string{"registration.exemption PIPA-32-2"}, rules(ValidateRegistration(&registryv1.Registration{
		Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION}, today)))
	require.Equal(t, []string{"registration.exemption PIPA-32-2"}, rules(ValidateRegistration(&registryv1.Registration{
		Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: "2026-12-01",
		Exemption: registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_CRIMINAL}, today)))
	require.Equal(t, []string{"registration.filed_date PIPA-32-2"}, rules(ValidateRegistration(&registryv1.Registration{
		Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION, Exemption: registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_SECRET,
		FiledDate: "2026-12-01", PipcNumber: "1"}, today)))
}

// DEC-35: sensitive or unique-identifier data of 50,000 subjects, 500,000 subjects of a file
// linked or matched with another, or 1,000,000 subjects of any data, make a file one to assess (PIPA-33-2: by a designated assessor, before design ends).
func TestAssessmentThreshold(t *testing.T) {
	for _, c := range []struct {
		f    *registryv1.PersonalInformationFile
		want string
	}{
		{&registryv1.PersonalInformationFile{SubjectCount: 49_999, Sensitive: true}, ""},
		{&registryv1.PersonalInformationFile{SubjectCount: 50_000, Sensitive: true}, "DEC-35 1"},
		{&registryv1.PersonalInformationFile{SubjectCount: 50_000, UniqueIdentifiers: true}, "DEC-35 1"},
		{&registryv1.PersonalInformationFile{SubjectCount: 499_999, Linked: true}, ""},
		{&registryv1.PersonalInformationFile{SubjectCount: 500_000, Linked: true}, "DEC-35 2"},
		{&registryv1.PersonalInformationFile{SubjectCount: 500_000}, ""},
		{&registryv1.PersonalInformationFile{SubjectCount: 999_999}, ""},
		{&registryv1.PersonalInformationFile{SubjectCount: 1_000_000}, "DEC-35 3"},
	} {
		got := AssessmentThreshold(c.f)
		if c.want == "" {
			require.Empty(t, got)
		} else {
			require.Contains(t, got, c.want)
		}
	}
}

// DEC-38-2: the report goes to PIPC within two months of receipt and before go-live; each
// improvement is done by its due date and its result reported within a year of receipt.
func TestAssessmentObligations(t *testing.T) {
	const a0 = "tenants/t/units/u/assessments/a"
	a := &registryv1.ImpactAssessment{Name: a0, DisplayName: "a", ReportDate: "2026-10-31",
		Improvements: []*registryv1.Improvement{{Description: "x", DueDate: "2027-01-31"}, {Description: "y", Done: true}}}
	list := func() []string {
		var out []string
		for _, o := range Obligations(Registers{Unit: "tenants/t/units/u", Assessments: []*registryv1.ImpactAssessment{a}}, today) {
			out = append(out, fmt.Sprintf("%s %s %s %s %d", o.GetRule(), o.GetResource(), o.GetDueDate(), o.GetState(), o.GetDaysLeft()))
		}
		return out
	}
	require.ElementsMatch(t, []string{
		"DEC-38-2 " + a0 + " 2026-12-31 DEADLINE_STATE_DUE 24", // 10-31 + 2 months, clamped
		"DEC-38-2 " + a0 + "#improvements[0] 2027-01-31 DEADLINE_STATE_DUE 55",
		"DEC-38-2 " + a0 + "#improvements[0] 2027-10-31 DEADLINE_STATE_DUE 328",
		"DEC-38-2 " + a0 + "#improvements[1] 2027-10-31 DEADLINE_STATE_DUE 328",
	}, list())

	// Before go-live, if that comes first.
	a.GoLiveDate = "2026-12-01"
	require.Contains(t, list(), "DEC-38-2 "+a0+" 2026-11-30 DEADLINE_STATE_OVERDUE -7")

	// Submitted, done and reported: nothing left.
	a.SubmitDate = "2026-11-15"
	for _, im := range a.Improvements {
		im.DoneDate, im.ReportDate = "2026-12-01", "2026-12-02"
	}
	require.Empty(t, list())
}

// PIPA-11의2 / DEC-13의2: the yearly evaluation of a local government is owed until recorded; its
// improvements are duties until done; dates keep their order.
func TestEvaluation(t *testing.T) {
	require.NotNil(t, EvaluationDue(registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT, nil, "tenants/t", today))
	require.Nil(t, EvaluationDue(registryv1.TenantKind_TENANT_KIND_SCHOOL, nil, "tenants/t", today))
	require.Nil(t, EvaluationDue(registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT,
		[]*registryv1.ProtectionEvaluation{{Year: 2026}}, "tenants/t", today))

	require.Equal(t, []string{"evaluation.result_date PIPA-11의2"}, rules(ValidateEvaluation(&registryv1.ProtectionEvaluation{
		Year: 2025, SubmitDate: "2026-03-01", ResultDate: "2026-02-01"}, today)))
	require.Equal(t, []string{"evaluation.submit_date DEC-13의2"}, rules(ValidateEvaluation(&registryv1.ProtectionEvaluation{
		Year: 2026, SubmitDate: "2027-03-01"}, today)), "a submission to come is not recorded")
}

func TestAddMonths(t *testing.T) {
	require.Equal(t, "2027-02-28", policy.NewDate(2026, 12, 31).AddMonths(2).String())
	require.Equal(t, "2028-02-29", policy.NewDate(2027, 12, 31).AddMonths(2).String())
	require.Equal(t, "2027-10-31", policy.NewDate(2026, 10, 31).AddMonths(12).String())
}

// PIPA-32-1, DEC-34-1: a file's registration status is its records': due until filed, registered
// once filed, still registered while a change is pending, no longer once its deregistration is
// filed; exempt (PIPA-32-2) is NONE and never registered.
func TestFileStatus(t *testing.T) {
	ev := func(k registryv1.RegistrationKind, event, filed string) *registryv1.Registration {
		return &registryv1.Registration{Kind: k, EventDate: event, FiledDate: filed}
	}
	const (
		reg    = registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION
		change = registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE
		dereg  = registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION
	)
	for _, c := range []struct {
		events     []*registryv1.Registration
		registered bool
		state      registryv1.DeadlineState
	}{
		{nil, false, registryv1.DeadlineState_DEADLINE_STATE_UNSPECIFIED},
		{[]*registryv1.Registration{ev(reg, "2026-11-01", "")}, false, registryv1.DeadlineState_DEADLINE_STATE_DUE},
		{[]*registryv1.Registration{ev(reg, "2026-09-01", "")}, false, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE},
		{[]*registryv1.Registration{ev(reg, "2026-09-01", "2026-10-01")}, true, registryv1.DeadlineState_DEADLINE_STATE_DONE},
		{[]*registryv1.Registration{ev(reg, "2026-09-01", "2026-10-01"), ev(change, "2026-11-01", "")}, true, registryv1.DeadlineState_DEADLINE_STATE_DUE},
		{[]*registryv1.Registration{ev(reg, "2026-09-01", "2026-10-01"), ev(dereg, "2026-11-01", "")}, true, registryv1.DeadlineState_DEADLINE_STATE_DUE},
		{[]*registryv1.Registration{ev(reg, "2026-09-01", "2026-10-01"), ev(dereg, "2026-11-01", "2026-11-02")}, false, registryv1.DeadlineState_DEADLINE_STATE_DONE},
		{[]*registryv1.Registration{{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION,
			Exemption: registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_SIMPLE_TASK}}, false, registryv1.DeadlineState_DEADLINE_STATE_NONE},
	} {
		f := &registryv1.PersonalInformationFile{Registered: true} // a stale stored flag is overwritten
		FileStatus(f, c.events, today)
		require.Equal(t, c.registered, f.GetRegistered(), "%v", c.events)
		require.Equal(t, c.state, f.GetRegistrationState(), "%v", c.events)
	}
}
