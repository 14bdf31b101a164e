package register

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// PIPA-26-4: with no interval set the education and inspection are undated duties that say so;
// with one, due that many months after the last (or the contract); a contract that ended owes
// nothing. PIPA-26-1: a processor without a contract owes one.
func TestContractDuties(t *testing.T) {
	p := &registryv1.Processor{Name: "tenants/t/units/u/processors/p", Company: "A", Work: "B", ContractStart: "2026-01-10"}
	c := &registryv1.ProcessorContract{Name: "tenants/t/units/u/contracts/p", NoOtherProcessing: "1", Safeguards: "2", PurposeAndScope: "3",
		SubprocessingLimits: "4", AccessLimits: "5", Supervision: "6", Liability: "7", SignedDate: "2026-01-05"}
	duties := func(c *registryv1.ProcessorContract) []*registryv1.Obligation {
		return Obligations(Registers{Unit: "tenants/t/units/u", Processors: []*registryv1.Processor{p},
			Contracts: map[string]*registryv1.ProcessorContract{p.GetName(): c}}, today)
	}
	os := duties(nil)
	require.Len(t, os, 1)
	require.Equal(t, "PIPA-26-1", os[0].GetRule())

	os = duties(c)
	require.Len(t, os, 2, "no DEC-28-1 item missing; education and inspection without an interval")
	for _, o := range os {
		require.Equal(t, "PIPA-26-4", o.GetRule())
		require.Empty(t, o.GetDueDate())
		require.Contains(t, o.GetTitle(), "주기 설정")
	}

	c.SupervisionMonths = 6
	c.Educations = []*registryv1.SupervisionRecord{{Date: "2026-09-01", Evidence: "e"}}
	os = duties(c)
	Sort(os)
	require.Len(t, os, 2)
	require.Equal(t, "2026-07-05", os[0].GetDueDate(), "never inspected: six months after signing, overdue first")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, os[0].GetState())
	require.Equal(t, "2027-03-01", os[1].GetDueDate(), "six months after the last education")

	p.ContractEnd = "2026-12-06"
	require.Empty(t, duties(c), "the contract ended yesterday")
}

// PIPA-26-6, PIPA-26-4: what a contract must carry.
func TestValidateContract(t *testing.T) {
	c := &registryv1.ProcessorContract{
		Subprocessors: []*registryv1.Subprocessor{{Company: "S", ConsentDate: "2026-01-01"}},
		Educations:    []*registryv1.SupervisionRecord{{Evidence: "e"}},
	}
	require.Equal(t, []string{"contract.educations[0].date PIPA-26-4", "contract.subprocessors[0].consent_evidence PIPA-26-6"},
		rules(ValidateContract(c, today)))
}

// DEC-28-4: a notice sent says when and how; DEC-28-5: a posting starts when recorded and stays
// up at least 30 days.
func TestValidateNotice(t *testing.T) {
	require.Equal(t, []string{"notice.date PIPA-26-3", "notice.method DEC-28-4"}, rules(ValidateNotice(&registryv1.SubjectNotice{}, today)))
	require.Empty(t, ValidateNotice(&registryv1.SubjectNotice{Date: today.String(), Method: "우편(서면)"}, today))
	require.Equal(t, []string{"notice.posting_end_date DEC-28-5"},
		rules(ValidateNotice(&registryv1.SubjectNotice{PostingReason: "주소 불명", PostingEndDate: today.AddDays(29).String()}, today)))
	require.Empty(t, ValidateNotice(&registryv1.SubjectNotice{PostingReason: "주소 불명", PostingEndDate: today.AddDays(30).String()}, today))
	require.Equal(t, []string{"notice.date DEC-28-5"},
		rules(ValidateNotice(&registryv1.SubjectNotice{PostingReason: "주소 불명", Date: today.AddDays(-3).String()}, today)))
}

// PIPA-26-3: a marketing task owes a notice from its entrustment; once the processor or the task
// differs from what the latest notice told, a new one is due from the day of the change.
func TestNoticeDuty(t *testing.T) {
	p := &registryv1.Processor{Name: "tenants/t/units/u/processors/p", Company: "A", Work: "홍보 문자 발송",
		UpdateTime: timestamppb.New(time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC))}
	c := &registryv1.ProcessorContract{Name: "tenants/t/units/u/contracts/p", NoOtherProcessing: "1", Safeguards: "2", PurposeAndScope: "3",
		SubprocessingLimits: "4", AccessLimits: "5", Supervision: "6", Liability: "7", SignedDate: "2026-11-02", SupervisionMonths: 120,
		Marketing: true}
	notice := func(ns ...*registryv1.SubjectNotice) *registryv1.Obligation {
		os := Obligations(Registers{Unit: "tenants/t/units/u", Processors: []*registryv1.Processor{p},
			Contracts: map[string]*registryv1.ProcessorContract{p.GetName(): c}, Notices: map[string][]*registryv1.SubjectNotice{c.GetName(): ns}}, today)
		for _, o := range os {
			if o.GetRule() == "PIPA-26-3" {
				return o
			}
		}
		return nil
	}
	o := notice()
	require.NotNil(t, o)
	require.Equal(t, "2026-11-02", o.GetDueDate(), "due the day the task is entrusted")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, o.GetState())

	told := &registryv1.SubjectNotice{Date: "2026-11-02", Method: "우편", ProcessorCompany: "A", Task: "홍보 문자 발송"}
	require.Nil(t, notice(told), "told of the processor and task as they stand")

	p.Company = "B"
	o = notice(told)
	require.NotNil(t, o, "the processor changed after the notice")
	require.Equal(t, "2026-11-20", o.GetDueDate(), "due the day the change was recorded")
	require.Contains(t, o.GetTitle(), "A: 홍보 문자 발송 → B: 홍보 문자 발송")
	require.Nil(t, notice(told, &registryv1.SubjectNotice{ProcessorCompany: "B", Task: "홍보 문자 발송"}))

	c.Marketing = false
	require.Nil(t, notice(told), "not a marketing task")
}
