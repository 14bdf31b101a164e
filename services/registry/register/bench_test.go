package register

import (
	"fmt"
	"testing"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// BenchmarkObligations computes a large unit's list: 1,000 files with three registration events
// each (one not filed), 50 assessments with four improvements. ListObligations does this per
// call on top of the three reads of the registers.
func BenchmarkObligations(b *testing.B) {
	r := Registers{Unit: "tenants/t/units/u"}
	for i := range 1000 {
		f := &registryv1.FileRegistrations{File: &registryv1.PersonalInformationFile{Name: fmt.Sprintf("tenants/t/units/u/files/f%d", i),
			DisplayName: "파일", SubjectCount: int64(i * 2000), Sensitive: i%2 == 0}}
		for n := range 3 {
			g := &registryv1.Registration{Name: fmt.Sprintf("%s/registrations/%d", f.File.Name, n+1),
				Kind: registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE, EventDate: "2026-10-01"}
			if n < 2 {
				g.FiledDate, g.PipcNumber = "2026-10-02", "1"
			}
			f.Registrations = append(f.Registrations, g)
		}
		f.AssessmentThreshold = AssessmentThreshold(f.File)
		f.AssessmentRequired = f.AssessmentThreshold != ""
		r.Files = append(r.Files, f)
	}
	for i := range 50 {
		a := &registryv1.ImpactAssessment{Name: fmt.Sprintf("tenants/t/units/u/assessments/a%d", i), ReportDate: "2026-09-01",
			Files: []string{fmt.Sprintf("tenants/t/units/u/files/f%d", i)}}
		for range 4 {
			a.Improvements = append(a.Improvements, &registryv1.Improvement{Description: "x", DueDate: "2027-01-01"})
		}
		r.Assessments = append(r.Assessments, a)
	}
	b.ReportAllocs()
	for b.Loop() {
		os := Obligations(r, today)
		Sort(os)
	}
}
