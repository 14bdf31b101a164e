package entry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// rule is the LAW.md rule err names, "" for none.
func rule(t *testing.T, err error) string {
	t.Helper()
	var e *apierr.Error
	require.True(t, errors.As(err, &e), "%v", err)
	return e.Metadata["rule"]
}

// TestRedactable_S_8_1_S_8_3_Access: staff never erase an access record (S-8-3); the retention
// service does, not before a year has passed since the access (S-8-1), and erases nothing else.
func TestRedactable_S_8_1_S_8_3_Access(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	access := ledgerv1.EntryKind_ENTRY_KIND_ACCESS
	yearAgo := now.AddDate(-1, 0, 0)

	require.Equal(t, "S-8-3", rule(t, entry.Redactable(access, yearAgo.Add(-time.Hour), false, now)))
	err := entry.Redactable(access, yearAgo.Add(time.Second), true, now)
	require.Equal(t, apierr.KindPrecondition, apierr.KindOf(err))
	require.Equal(t, "S-8-1", rule(t, err))
	require.NoError(t, entry.Redactable(access, yearAgo, true, now), "a year to the instant")
	require.Equal(t, "S-8-1", rule(t, entry.Redactable(ledgerv1.EntryKind_ENTRY_KIND_VIEWING, yearAgo.AddDate(-5, 0, 0), true, now)))
	require.NoError(t, entry.Redactable(ledgerv1.EntryKind_ENTRY_KIND_VIEWING, now, false, now), "staff erase a requester's values")
}

// TestRedactable_S_5_RoleChangeKeptThreeYears: a ROLE_CHANGE entry is kept three calendar years,
// then staff or the retention service may erase it.
func TestRedactable_S_5_RoleChangeKeptThreeYears(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rc := ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE
	err := entry.Redactable(rc, now.AddDate(-3, 0, 0).Add(time.Second), false, now)
	require.Equal(t, apierr.KindPrecondition, apierr.KindOf(err))
	require.Equal(t, "S-5", rule(t, err))
	require.NoError(t, entry.Redactable(rc, now.AddDate(-3, 0, 0), false, now))
	require.NoError(t, entry.Redactable(rc, now.AddDate(-3, 0, 0), true, now), "the retention service's daily sweep")
	require.Equal(t, "S-5", rule(t, entry.Redactable(rc, now.AddDate(-3, 0, 1), true, now)), "nor the service's before")
}

// A REDACTION entry holds nothing to erase, whoever asks.
func TestRedactableRedaction(t *testing.T) {
	now := time.Now()
	for _, svc := range []bool{false, true} {
		err := entry.Redactable(ledgerv1.EntryKind_ENTRY_KIND_REDACTION, now.AddDate(-9, 0, 0), svc, now)
		require.Equal(t, apierr.KindPrecondition, apierr.KindOf(err))
	}
}
