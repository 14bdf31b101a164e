package register

import (
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// MaxSupervisionMonths bounds the body's education and inspection interval (PIPA-26-4 sets none):
// five years, beyond which the setting is a typo.
const MaxSupervisionMonths = 60

// ContractItems are the items DEC-28-1 asks the written contract to hold, with their Korean
// titles, in the order of the Decree.
var ContractItems = []struct {
	Field, Title string
	Get          func(*registryv1.ProcessorContract) string
}{
	{"no_other_processing", "위탁업무 수행 목적 외 개인정보의 처리 금지", (*registryv1.ProcessorContract).GetNoOtherProcessing},
	{"safeguards", "개인정보의 기술적·관리적 보호조치", (*registryv1.ProcessorContract).GetSafeguards},
	{"purpose_and_scope", "위탁업무의 목적 및 범위", (*registryv1.ProcessorContract).GetPurposeAndScope},
	{"subprocessing_limits", "재위탁 제한", (*registryv1.ProcessorContract).GetSubprocessingLimits},
	{"access_limits", "개인정보에 대한 접근 제한 등 안전성 확보 조치", (*registryv1.ProcessorContract).GetAccessLimits},
	{"supervision", "개인정보 관리 현황 점검 등 감독", (*registryv1.ProcessorContract).GetSupervision},
	{"liability", "손해배상 등 책임", (*registryv1.ProcessorContract).GetLiability},
}

// ValidateContract checks a processor's contract (field names under "contract.").
func ValidateContract(c *registryv1.ProcessorContract, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	dateField(&vs, "contract.signed_date", c.GetSignedDate(), "PIPA-26-1", today)
	for _, it := range ContractItems {
		text(&vs, "contract."+it.Field, it.Get(c))
	}
	if m := c.GetSupervisionMonths(); m < 0 || m > MaxSupervisionMonths {
		vs.Add("contract.supervision_months", "range", "months from 0 (not set) to %d are required (got %d)", MaxSupervisionMonths, m)
	}
	supervision(&vs, "contract.educations", c.GetEducations(), today)
	supervision(&vs, "contract.inspections", c.GetInspections(), today)
	for i, sp := range c.GetSubprocessors() {
		f := fmt.Sprintf("contract.subprocessors[%d]", i)
		if strings.TrimSpace(sp.GetCompany()) == "" {
			vs.Add(f+".company", "required", "the sub-processor's name is required (PIPA-26-2: every processor is published)")
		}
		text(&vs, f+".company", sp.GetCompany())
		text(&vs, f+".work", sp.GetWork())
		if sp.GetConsentDate() == "" {
			vs.Add(f+".consent_date", "PIPA-26-6", "a sub-processor needs the body's consent: give the day it was given")
		}
		dateField(&vs, f+".consent_date", sp.GetConsentDate(), "PIPA-26-6", today)
		if strings.TrimSpace(sp.GetConsentEvidence()) == "" {
			vs.Add(f+".consent_evidence", "PIPA-26-6", "say where the body's consent is recorded (e.g. its document number)")
		}
		text(&vs, f+".consent_evidence", sp.GetConsentEvidence())
	}
	return vs
}

func supervision(vs *apierr.Violations, field string, rs []*registryv1.SupervisionRecord, today policy.Date) {
	for i, r := range rs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if r.GetDate() == "" {
			vs.Add(f+".date", "PIPA-26-4", "the day it took place is required")
		}
		dateField(vs, f+".date", r.GetDate(), "PIPA-26-4", today)
		if strings.TrimSpace(r.GetEvidence()) == "" {
			vs.Add(f+".evidence", "PIPA-26-4", "say where its evidence is kept (document number, file)")
		}
		text(vs, f+".description", r.GetDescription())
		text(vs, f+".evidence", r.GetEvidence())
	}
}

// contractDuties adds what a processor and its contract (nil when none is recorded) make due: the
// written contract and its DEC-28-1 items, the processor's education and inspection every
// supervision_months while the contract runs (PIPA-26-4), the consent to a sub-processor the
// processor names (PIPA-26-6) and the notices of a marketing task (PIPA-26-3, noticeDuty).
func contractDuties(add func(resource, rule, title string, due policy.Date), p *registryv1.Processor, c *registryv1.ProcessorContract,
	notices []*registryv1.SubjectNotice, today policy.Date) {
	label := p.GetCompany()
	if p.GetWork() != "" {
		label += ": " + p.GetWork()
	}
	if end, err := policy.ParseDate(p.GetContractEnd()); err == nil && !end.IsZero() && end.Before(today) {
		return // the contract ended
	}
	if c == nil {
		add(p.GetName(), "PIPA-26-1", fmt.Sprintf("위탁계약서 기록 (%s)", label), policy.Date{})
		return
	}
	var missing []string
	for _, it := range ContractItems {
		if strings.TrimSpace(it.Get(c)) == "" {
			missing = append(missing, it.Title)
		}
	}
	if c.GetSignedDate() == "" {
		missing = append([]string{"체결일"}, missing...)
	}
	if len(missing) > 0 {
		add(c.GetName(), "DEC-28-1", fmt.Sprintf("위탁계약서 기재사항 확인 (%s): %s", label, strings.Join(missing, ", ")), policy.Date{})
	}
	start, _ := policy.ParseDate(c.GetSignedDate())
	if start.IsZero() {
		start, _ = policy.ParseDate(p.GetContractStart())
	}
	for _, k := range []struct {
		field, title string
		rs           []*registryv1.SupervisionRecord
	}{{"educations", "수탁자 교육", c.GetEducations()}, {"inspections", "수탁자 처리현황 점검", c.GetInspections()}} {
		res := c.GetName() + "#" + k.field
		if c.GetSupervisionMonths() == 0 {
			add(res, "PIPA-26-4", fmt.Sprintf("%s 주기 설정 (%s)", k.title, label), policy.Date{})
			continue
		}
		last := latest(start, k.rs, (*registryv1.SupervisionRecord).GetDate)
		var due policy.Date
		if !last.IsZero() {
			due = last.AddMonths(int(c.GetSupervisionMonths()))
		}
		add(res, "PIPA-26-4", fmt.Sprintf("%s (%s)", k.title, label), due)
	}
	if strings.TrimSpace(p.GetSubprocessor()) != "" && len(c.GetSubprocessors()) == 0 {
		add(c.GetName(), "PIPA-26-6", fmt.Sprintf("재위탁 동의 기록 (%s → %s)", label, p.GetSubprocessor()), policy.Date{})
	}
	noticeDuty(add, p, c, notices, start, label)
}
