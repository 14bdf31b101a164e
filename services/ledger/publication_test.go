package ledger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// STD-21: an announced version's frozen document reaches the unit's ledger as a PUBLICATION entry
// through the registry's ledger outbox (pkg/ledgerout), the one every service uses: the entry is
// written in the announcement's transaction, delivered, and named on the version by the outbox's
// hook; an announcement retried with its request_id writes no second entry.
func TestPublicationThroughTheRegistryOutbox(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	const unit = "tenants/jeongeup/units/library"
	cpo := s.As(auth.RoleCPO, unit)
	cctv := unit + "/policies/cctv"
	src, err := s.Registry.GetPolicyVersion(cpo, &registryv1.GetPolicyVersionRequest{Name: cctv + "/versions/2"})
	require.NoError(t, err)
	draft, err := s.Registry.CreatePolicyVersion(cpo, &registryv1.CreatePolicyVersionRequest{Parent: cctv,
		PolicyVersion: &registryv1.PolicyVersion{Title: src.GetTitle(), Preamble: src.GetPreamble(),
			Articles: src.GetArticles(), Attachments: src.GetAttachments()}})
	require.NoError(t, err)
	req := &registryv1.AnnouncePolicyVersionRequest{Name: draft.GetName(), EffectiveDate: registrytest.InDays(7),
		ChangeSummary: "변경", RequestId: "announce-publication"}
	_, err = s.Registry.AnnouncePolicyVersion(cpo, req)
	require.NoError(t, err)
	_, err = s.Registry.AnnouncePolicyVersion(cpo, req) // a retry after a lost answer
	require.NoError(t, err)

	var frozen *registryv1.PolicyVersion
	require.Eventually(t, func() bool {
		frozen, err = s.Registry.GetPolicyVersion(cpo, &registryv1.GetPolicyVersionRequest{Name: draft.GetName()})
		return err == nil && frozen.GetDocument().GetLedgerEntry() != ""
	}, 30*time.Second, 50*time.Millisecond, "the version names its PUBLICATION entry")
	e, err := s.ledger().GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: frozen.GetDocument().GetLedgerEntry()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION, e.GetKind())
	require.Equal(t, frozen.GetName(), e.GetFileName())
	require.Equal(t, frozen.GetDocument().GetHtmlSha256(), e.GetDocumentSha256())

	var rows, delivered int
	require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*), count(ledger_index) FROM registry.ledger_outbox
		WHERE subject = $1 AND chain = 'publication'`, frozen.GetName()).Scan(&rows, &delivered))
	require.Equal(t, 1, rows, "one PUBLICATION in the registry's outbox")
	require.Equal(t, 1, delivered)
	published := 0
	for tok := ""; ; {
		page, err := s.ledger().ListEntries(cpo, &ledgerv1.ListEntriesRequest{Parent: unit,
			Kind: ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION, PageToken: tok})
		require.NoError(t, err)
		for _, e := range page.GetEntries() {
			if e.GetFileName() == frozen.GetName() {
				published++
			}
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	require.Equal(t, 1, published, "the retry appended nothing")
}
