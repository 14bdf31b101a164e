package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// STD-58, DEC-34-1: a change to the registers reaches the unit's ledger as a REGISTER entry naming
// the record, appended by the registry with the service credential, and the record names it.
func TestRegisterChangesReachTheLedger(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	const file = "tenants/seongnam/units/library-office/files/library-members"
	r, err := s.Registry.CreateRegistration(s.Admin(), &registryv1.CreateRegistrationRequest{Parent: file, RequestId: "reg-1",
		Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: registrytest.InDays(-3)}})
	require.NoError(t, err)
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, r.GetState())
	require.Equal(t, registrytest.InDays(57), r.GetDueDate())

	// The call delivers its entry at once; the seed's assessment and evaluation, imported the
	// same way, are in the ledger too.
	var entry string
	require.Eventually(t, func() bool {
		list, err := s.Registry.ListRegistrations(s.Admin(), &registryv1.ListRegistrationsRequest{Parent: "tenants/seongnam"})
		require.NoError(t, err)
		for _, fr := range list.GetFiles() {
			if fr.GetFile().GetName() == file {
				entry = fr.GetRegistrations()[0].GetLedgerEntry()
			}
		}
		return entry != ""
	}, 20*time.Second, 100*time.Millisecond)
	auditor := s.As(auth.RoleAuditor, "tenants/seongnam")
	e, err := s.ledger().GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: entry})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_REGISTER, e.GetKind())
	require.Equal(t, r.GetName(), e.GetFileName())
	require.Contains(t, e.GetPurpose(), "개인정보파일 등록")

	list, err := s.ledger().ListEntries(auditor, &ledgerv1.ListEntriesRequest{Parent: "tenants/seongnam/units/library-office",
		Kind: ledgerv1.EntryKind_ENTRY_KIND_REGISTER})
	require.NoError(t, err)
	var files []string
	for _, e := range list.GetEntries() {
		files = append(files, e.GetFileName())
	}
	require.ElementsMatch(t, []string{"tenants/seongnam/units/library-office/assessments/pia-2016",
		"tenants/seongnam/units/library-office/evaluations/2023", r.GetName()}, files)
}

// The demo (deploy/examples, what `make run` loads): each of the five bodies' CPO reads its whole
// list of what is due over REST, every service answering (nothing missing). What the seeds state
// is there: Seongnam's two files owe their registration record (PIPA-32-1: the seed publishes no
// registration), its 2016 assessment and 2023 evaluation are records that owe nothing more; no
// seed names a processor, so no body owes a contract or a notice (PIPA-26).
func TestDemoObligations(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, f := range []string{"jeongeup-library.yaml", "yeongtong-school.yaml", "seoul-immigration.yaml", "seongnam-library.yaml", "iksan.yaml"} {
		s.Load(f)
	}
	for _, tenant := range []string{"jeongeup", "yeongtong-es", "seoul-immigration", "seongnam", "iksan"} {
		r := s.Get("/v1/tenants/"+tenant+"/obligations", "Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/"+tenant))
		body := stacktest.Body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, body)
		var ob registryv1.ListObligationsResponse
		require.NoError(t, protojson.Unmarshal([]byte(body), &ob))
		require.Empty(t, ob.GetMissing(), tenant)
		var rules []string
		for _, o := range ob.GetObligations() {
			require.False(t, strings.HasPrefix(o.GetRule(), "PIPA-26") || strings.HasPrefix(o.GetRule(), "DEC-28"), "%s: %s", tenant, o.GetRule())
			rules = append(rules, o.GetRule()+" "+o.GetResource())
			t.Logf("%s: %s %s %s %s D%+d", tenant, o.GetState(), o.GetRule(), o.GetResource(), o.GetDueDate(), -o.GetDaysLeft())
		}
		if tenant == "seongnam" {
			require.Subset(t, rules, []string{"PIPA-32-1 tenants/seongnam/units/library-office/files/homepage-members",
				"PIPA-32-1 tenants/seongnam/units/library-office/files/library-members"})
			for _, r := range rules {
				require.NotContains(t, r, "pia-2016")
				require.NotContains(t, r, "evaluations/2023")
			}
		}
	}
}
