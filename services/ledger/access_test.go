package ledger_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// S-2-3: the ACCESS record of a ListEntries names the entries it returned, as few subjects as fit
// an entry field.
func TestAccessRules_S_2_3_ListEntriesNamesTheEntries(t *testing.T) {
	rule := ledger.AccessRules[ledgerv1.LedgerService_ListEntries_FullMethodName]
	req := &ledgerv1.ListEntriesRequest{Parent: "tenants/iksan/units/cctv"}
	page := func(idx ...int64) *ledgerv1.ListEntriesResponse {
		r := &ledgerv1.ListEntriesResponse{}
		for _, i := range idx {
			r.Entries = append(r.Entries, &ledgerv1.Entry{Index: i})
		}
		return r
	}
	tenant, unit, ok := rule.Log(req)
	require.True(t, ok)
	require.Equal(t, []string{"iksan", "cctv"}, []string{tenant, unit})
	require.Equal(t, []string{"tenants/iksan/units/cctv/ledger/entries/0-2,5,7-8"}, rule.Subjects(req, page(0, 1, 2, 5, 7, 8)))
	require.Equal(t, []string{"tenants/iksan/units/cctv/ledger/entries/42"}, rule.Subjects(req, page(42)))
	require.Empty(t, rule.Subjects(req, page()), "an empty page read nothing")

	var sparse []int64
	for i := range int64(999) {
		sparse = append(sparse, 1_000_000+2*i)
	}
	subjects := rule.Subjects(req, page(sparse...))
	require.Greater(t, len(subjects), 1)
	var named []string
	for _, s := range subjects {
		require.LessOrEqual(t, len(s), entry.MaxStringBytes)
		list, ok := strings.CutPrefix(s, "tenants/iksan/units/cctv/ledger/entries/")
		require.True(t, ok, s)
		named = append(named, strings.Split(list, ",")...)
	}
	require.Len(t, named, len(sparse), "every entry is named once")
	require.Equal(t, "1000000", named[0])
	require.Equal(t, "1001996", named[len(named)-1])
}
