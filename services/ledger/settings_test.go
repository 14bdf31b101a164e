package ledger_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// UpdateLedgerSettings takes a request_id (AIP-155): a retry is answered with the settings as
// they stand and does not run again, even after another call changed them; the same id with
// other settings is refused naming request_id and changes nothing; the id is the tenant's own,
// so another tenant's same id is its own request.
func TestLedgerSettingsIdempotent(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	update := func(id string, public bool) (*ledgerv1.LedgerSettings, error) {
		return s.client.UpdateLedgerSettings(cpo, &ledgerv1.UpdateLedgerSettingsRequest{RequestId: id,
			Settings:   &ledgerv1.LedgerSettings{Name: "tenants/iksan/ledgerSettings", PublicEntryBundles: public},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"public_entry_bundles"}}})
	}
	read := func() bool {
		got, err := s.client.GetLedgerSettings(cpo, &ledgerv1.GetLedgerSettingsRequest{Name: "tenants/iksan/ledgerSettings"})
		require.NoError(t, err)
		return got.GetPublicEntryBundles()
	}
	first, err := update("publish", true)
	require.NoError(t, err)
	retry, err := update("publish", true)
	require.NoError(t, err)
	require.True(t, proto.Equal(first, retry))

	_, err = update("publish", false)
	_, vs := requireStatus(t, err, codes.InvalidArgument)
	require.Len(t, vs, 1)
	require.Equal(t, "request_id", vs[0].GetField())
	require.Equal(t, "AIP-155", vs[0].GetReason())
	require.True(t, read(), "the refused reuse changed nothing")

	// Withdrawn by another call, then the first call's retry arrives late: it is answered as
	// first and does not publish again.
	_, err = update("withdraw", false)
	require.NoError(t, err)
	_, err = update("publish", true)
	require.NoError(t, err)
	require.False(t, read(), "the late retry did not run again")

	_, err = s.client.UpdateLedgerSettings(as(t, s, "other", auth.RoleCPO, "tenants/other"), &ledgerv1.UpdateLedgerSettingsRequest{RequestId: "publish",
		Settings: &ledgerv1.LedgerSettings{Name: "tenants/other/ledgerSettings", PublicEntryBundles: false}})
	require.NoError(t, err, "another tenant's request_id is its own")
}
