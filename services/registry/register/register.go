// Package register is the domain of the body's registers beyond its policies (LAW.md 9b, 9c): a
// file's registration with PIPC and its 60-day deadlines (PIPA-32-1, DEC-34-1), exemptions
// (PIPA-32-2), the impact assessment thresholds and deadlines (DEC-35, DEC-38-2), the yearly
// 보호수준 평가 (PIPA-11의2), and the list of what they make due. It validates and computes; the
// store keeps the records and the server serves them.
//
// Periods are counted as LAW.md's conservative day counting has it: the day of the event is not
// counted and the last day never moves to a working day, so a deadline is never later than the
// law's.
package register

import (
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/names"
	"time"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// RegistrationDays is the period to register a file, a change or a deregistration with PIPC
// (DEC-34-1, STD-53-4).
const RegistrationDays = 60

// maxText bounds the free-text fields.
const maxText = 2000

// dateField checks an optional YYYY-MM-DD field, not after today; it returns the zero Date when
// empty or wrong.
func dateField(vs *apierr.Violations, field, value, rule string, today policy.Date) policy.Date {
	if value == "" {
		return policy.Date{}
	}
	d, err := policy.ParseDate(value)
	if err != nil {
		vs.Add(field, "format", "a date as YYYY-MM-DD is required (got %q)", value)
		return policy.Date{}
	}
	if d.After(today) {
		vs.Add(field, rule, "%s is after today (%s): record what has happened", value, today)
		return policy.Date{}
	}
	return d
}

// plannedField checks an optional YYYY-MM-DD field that may lie ahead.
func plannedField(vs *apierr.Violations, field, value string) policy.Date {
	if value == "" {
		return policy.Date{}
	}
	d, err := policy.ParseDate(value)
	if err != nil {
		vs.Add(field, "format", "a date as YYYY-MM-DD is required (got %q)", value)
	}
	return d
}

func text(vs *apierr.Violations, field, value string) {
	if len([]rune(value)) > maxText {
		vs.Add(field, "range", "at most %d characters", maxText)
	}
}

// ValidateRegistration checks a new registration event (field names under "registration.").
func ValidateRegistration(r *registryv1.Registration, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	k := r.GetKind()
	if _, ok := registryv1.RegistrationKind_name[int32(k)]; !ok || k == registryv1.RegistrationKind_REGISTRATION_KIND_UNSPECIFIED {
		vs.Add("registration.kind", "PIPA-32-1", "kind is required: REGISTRATION, CHANGE, DEREGISTRATION or EXEMPTION")
	}
	if r.GetEventDate() == "" && k != registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION {
		vs.Add("registration.event_date", "DEC-34-1", "the date the file went live, changed or was destroyed is required: the 60 days run from it")
	}
	dateField(&vs, "registration.event_date", r.GetEventDate(), "DEC-34-1", today)
	ex := r.GetExemption()
	if _, ok := registryv1.RegistrationExemption_name[int32(ex)]; !ok {
		vs.Add("registration.exemption", "PIPA-32-2", "unknown exemption %d", ex)
	}
	switch {
	case k == registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION && ex == registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_UNSPECIFIED:
		vs.Add("registration.exemption", "PIPA-32-2", "an exemption names its ground under PIPA-32-2 (DEC-33-2)")
	case k != registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION && ex != registryv1.RegistrationExemption_REGISTRATION_EXEMPTION_UNSPECIFIED:
		vs.Add("registration.exemption", "PIPA-32-2", "only an EXEMPTION names an exemption ground")
	}
	if k == registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE && strings.TrimSpace(r.GetDescription()) == "" {
		vs.Add("registration.description", "DEC-34-1", "a change says which registered item changed")
	}
	if r.GetFiledDate() != "" || r.GetPipcNumber() != "" {
		if k == registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION {
			vs.Add("registration.filed_date", "PIPA-32-2", "an exempt file is not filed with PIPC")
		} else {
			vs = append(vs, ValidateFiling(r, r.GetFiledDate(), r.GetPipcNumber(), today, "registration.")...)
		}
	}
	for f, v := range map[string]string{"description": r.GetDescription(), "processing_method": r.GetProcessingMethod(),
		"access_department": r.GetAccessDepartment(), "access_restriction": r.GetAccessRestriction()} {
		text(&vs, "registration."+f, v)
	}
	return vs
}

// ValidateFiling checks the filing of r with PIPC: its date, not before the event nor after
// today, and PIPC's number, both required. prefix is the fields' prefix ("" for FileRegistration).
func ValidateFiling(r *registryv1.Registration, filed, number string, today policy.Date, prefix string) apierr.Violations {
	var vs apierr.Violations
	if r.GetKind() == registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION {
		vs.Add(prefix+"filed_date", "PIPA-32-2", "an exempt file is not filed with PIPC")
		return vs
	}
	if filed == "" {
		vs.Add(prefix+"filed_date", "DEC-34-1", "the date of filing with PIPC is required")
	}
	d := dateField(&vs, prefix+"filed_date", filed, "DEC-34-1", today)
	if ev, err := policy.ParseDate(r.GetEventDate()); err == nil && !d.IsZero() && d.Before(ev) {
		vs.Add(prefix+"filed_date", "DEC-34-1", "filed %s, before the event of %s it registers", filed, r.GetEventDate())
	}
	if strings.TrimSpace(number) == "" {
		vs.Add(prefix+"pipc_number", "DEC-34-1", "PIPC's registration number is required with the filing date")
	}
	text(&vs, prefix+"pipc_number", number)
	return vs
}

// Deadline is where a dated duty stands on a day.
type Deadline struct {
	Due   policy.Date // zero where no day is set
	State registryv1.DeadlineState
	Done  bool
}

// DaysLeft is the D-day: days from today to Due, negative when past.
func (d Deadline) DaysLeft(today policy.Date) int32 {
	if d.Due.IsZero() {
		return 0
	}
	return int32(daysBetween(today, d.Due))
}

func daysBetween(a, b policy.Date) int {
	ta, _ := time.Parse(time.DateOnly, a.String())
	tb, _ := time.Parse(time.DateOnly, b.String())
	return int(tb.Sub(ta).Hours() / 24)
}

// state is a duty's state on today: done, or due up to and on due, overdue after.
func state(due policy.Date, done bool, today policy.Date) registryv1.DeadlineState {
	switch {
	case done:
		return registryv1.DeadlineState_DEADLINE_STATE_DONE
	case !due.IsZero() && today.After(due):
		return registryv1.DeadlineState_DEADLINE_STATE_OVERDUE
	}
	return registryv1.DeadlineState_DEADLINE_STATE_DUE
}

// RegistrationDeadline is the deadline of a registration event on today: 60 days from the event
// (DEC-34-1), done once filed; an exemption has none (PIPA-32-2).
func RegistrationDeadline(r *registryv1.Registration, today policy.Date) Deadline {
	if r.GetKind() == registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION {
		return Deadline{State: registryv1.DeadlineState_DEADLINE_STATE_NONE}
	}
	ev, err := policy.ParseDate(r.GetEventDate())
	if err != nil {
		return Deadline{State: registryv1.DeadlineState_DEADLINE_STATE_UNSPECIFIED}
	}
	due := ev.AddDays(RegistrationDays)
	done := r.GetFiledDate() != ""
	return Deadline{Due: due, Done: done, State: state(due, done, today)}
}

// SetOutput fills a registration's output-only fields for today.
func SetOutput(r *registryv1.Registration, today policy.Date) {
	d := RegistrationDeadline(r, today)
	r.State = d.State
	r.DueDate = ""
	if !d.Due.IsZero() {
		r.DueDate = d.Due.String()
	}
}

// The DEC-35 thresholds of a file that must be assessed.
const (
	SensitiveThreshold = 50_000
	LinkedThreshold    = 500_000
	SubjectThreshold   = 1_000_000
)

// AssessmentThreshold says which DEC-35 threshold a file meets, or "" when none: sensitive or
// unique-identifier data of 50,000 subjects (1), 500,000 subjects in a file linked or matched with
// another (2), or 1,000,000 subjects (3).
func AssessmentThreshold(f *registryv1.PersonalInformationFile) string {
	n := f.GetSubjectCount()
	switch {
	case (f.GetSensitive() || f.GetUniqueIdentifiers()) && n >= SensitiveThreshold:
		return fmt.Sprintf("DEC-35 1: 민감정보 또는 고유식별정보 %d명 이상 (%d명)", SensitiveThreshold, n)
	case f.GetLinked() && n >= LinkedThreshold:
		return fmt.Sprintf("DEC-35 2: 다른 개인정보파일과 연계·결합, %d명 이상 (%d명)", LinkedThreshold, n)
	case n >= SubjectThreshold:
		return fmt.Sprintf("DEC-35 3: 정보주체 %d명 이상 (%d명)", SubjectThreshold, n)
	}
	return ""
}

var statusLabel = map[registryv1.RegistrationKind]string{
	registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION:   "등록",
	registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE:         "등록",
	registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION: "등록 삭제",
	registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION:      "등록 면제",
}

// Statuses are the files' PIPC registrations as a policy may state them: per file, its latest
// event filed with PIPC or exemption (rs in order of file and number). A file with none has no
// status.
func Statuses(rs []*registryv1.Registration) []*registryv1.FileRegistrationStatus {
	var out []*registryv1.FileRegistrationStatus
	byFile := map[string]*registryv1.FileRegistrationStatus{}
	for _, r := range rs {
		if r.GetFiledDate() == "" && r.GetKind() != registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION {
			continue
		}
		file := strings.TrimSuffix(r.GetName(), "/registrations/"+names.Last(r.GetName()))
		st := byFile[file]
		if st == nil {
			st = &registryv1.FileRegistrationStatus{Name: file}
			byFile[file] = st
			out = append(out, st)
		}
		st.Status, st.PipcNumber, st.FiledDate = statusLabel[r.GetKind()], r.GetPipcNumber(), r.GetFiledDate()
	}
	return out
}

// FileStatus sets a file's output-only registration fields from its registration events, oldest
// first (PIPA-32-1): registration_state is where its latest event stands (DEC-34-1; NONE for an
// exemption, PIPA-32-2), and registered says a registration or change was filed with PIPC and no
// deregistration filed since. They are derived, never stored, so they cannot disagree with the
// records.
func FileStatus(f *registryv1.PersonalInformationFile, events []*registryv1.Registration, today policy.Date) {
	f.Registered, f.RegistrationState = false, registryv1.DeadlineState_DEADLINE_STATE_UNSPECIFIED
	for _, r := range events {
		if r.GetFiledDate() == "" {
			continue
		}
		switch r.GetKind() {
		case registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE:
			f.Registered = true
		case registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION:
			f.Registered = false
		}
	}
	if n := len(events); n > 0 {
		f.RegistrationState = RegistrationDeadline(events[n-1], today).State
	}
}
