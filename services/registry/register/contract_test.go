package register

import (
	"testing"

	"github.com/stretchr/testify/require"

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

// PIPA-26-6, PIPA-26-4, DEC-28-4: what a contract must carry.
func TestValidateContract(t *testing.T) {
	c := &registryv1.ProcessorContract{
		Subprocessors: []*registryv1.Subprocessor{{Company: "S", ConsentDate: "2026-01-01"}},
		Educations:    []*registryv1.SupervisionRecord{{Evidence: "e"}},
		Marketing:     true, NoticeDate: "2026-01-01",
	}
	require.Equal(t, []string{"contract.educations[0].date PIPA-26-4", "contract.subprocessors[0].consent_evidence PIPA-26-6",
		"contract.notice_method DEC-28-4"}, rules(ValidateContract(c, today)))
}
