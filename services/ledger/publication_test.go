package ledger_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	registrypg "github.com/pipa-kr/pipa/services/registry/store/pg"
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

// A publication job queued by an earlier version (registry.publish_ledger_entry) is carried into
// the registry's outbox under the request_id that version appended with, and delivered: the
// version names its entry again. A job for a version that names its entry already adds nothing.
func TestPublicationJobOfAnEarlierVersionIsCarried(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	const unit = "tenants/jeongeup/units/library"
	cpo := s.As(auth.RoleCPO, unit)
	name := unit + "/policies/cctv/versions/2"
	var v *registryv1.PolicyVersion
	require.Eventually(t, func() bool {
		var err error
		v, err = s.Registry.GetPolicyVersion(cpo, &registryv1.GetPolicyVersionRequest{Name: name})
		return err == nil && v.GetDocument().GetLedgerEntry() != ""
	}, 30*time.Second, 50*time.Millisecond, "the imported version names its PUBLICATION entry")
	outboxRows := func() (rows, carried int) {
		require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE request_id = 'publication:' || subject)
			FROM registry.ledger_outbox WHERE subject = $1`, name).Scan(&rows, &carried))
		return rows, carried
	}
	jobs, err := river.NewClient(riverpgxv5.New(s.DB()), &river.Config{Schema: registrypg.Schema}) // inserts only
	require.NoError(t, err)
	job := registrypg.PublishArgs{Tenant: "jeongeup", Unit: "library", Policy: "cctv", Number: 2}

	// The version names its entry: the job adds nothing.
	_, err = jobs.Insert(t.Context(), job, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var pending int
		require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*) FROM registry.river_job
			WHERE kind = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`, job.Kind()).Scan(&pending))
		return pending == 0
	}, 30*time.Second, 50*time.Millisecond)
	rows, carried := outboxRows()
	require.Equal(t, 1, rows)
	require.Zero(t, carried)

	// As an earlier version left it: frozen, its job queued, nothing in the outbox.
	_, err = s.DB().Exec(t.Context(), `UPDATE registry.policy_versions SET data = data #- '{document,ledgerEntry}'
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND kind = 'cctv' AND number = 2`)
	require.NoError(t, err)
	_, err = s.DB().Exec(t.Context(), `DELETE FROM registry.ledger_outbox WHERE subject = $1`, name)
	require.NoError(t, err)
	_, err = jobs.Insert(t.Context(), job, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err = s.Registry.GetPolicyVersion(cpo, &registryv1.GetPolicyVersionRequest{Name: name})
		return err == nil && v.GetDocument().GetLedgerEntry() != ""
	}, 30*time.Second, 50*time.Millisecond, "the carried publication is delivered and named on the version")
	rows, carried = outboxRows()
	require.Equal(t, 1, rows)
	require.Equal(t, 1, carried, "under the request_id the earlier version appended with")
	e, err := s.ledger().GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: v.GetDocument().GetLedgerEntry()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION, e.GetKind())
	require.Equal(t, v.GetDocument().GetHtmlSha256(), e.GetDocumentSha256())
}
