package ledger

import (
	"strconv"
	"strings"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// AccessRules are the ledger's reads of personal data (requesters' and receiving officers' names
// and contacts; access records' accounts, addresses, subjects, actions and download reasons),
// recorded in the same unit's ledger as ACCESS entries (S-2-3). Appends are not reads, so the
// recorder's own appends of ACCESS entries never recurse. Leaves hold commitments to those
// values, except ACCESS leaves written before they did, and the verifier key is public.
//
// Reads of a tenant's own log (names.TenantLog: its staff's role grants) are recorded in that log.
var AccessRules = accesslog.Rules{
	ledgerv1.LedgerService_GetEntry_FullMethodName: {
		Log: func(req any) (string, string, bool) {
			r, _ := req.(*ledgerv1.GetEntryRequest)
			t, u, _, err := names.ParseLogEntry("name", r.GetName())
			return t, u, err == nil
		},
		Subjects: func(req, _ any) []string {
			r, _ := req.(*ledgerv1.GetEntryRequest)
			return []string{r.GetName()}
		},
	},
	ledgerv1.LedgerService_ListEntries_FullMethodName: {
		Log: func(req any) (string, string, bool) {
			r, _ := req.(*ledgerv1.ListEntriesRequest)
			t, u, err := names.ParseLog("parent", r.GetParent())
			return t, u, err == nil
		},
		Subjects: listed,
	},
	// The role-grant history names staff accounts: recorded in the tenant's own log.
	ledgerv1.RoleGrantService_ListRoleGrants_FullMethodName: {
		Log: func(req any) (string, string, bool) {
			r, _ := req.(*ledgerv1.ListRoleGrantsRequest)
			if r.GetParent() == operatorParent {
				return pg.OperatorTenant, names.TenantLog, true
			}
			t, err := names.ParseTenant("parent", r.GetParent())
			return t, names.TenantLog, err == nil
		},
		Subjects: func(req, _ any) []string {
			r, _ := req.(*ledgerv1.ListRoleGrantsRequest)
			return []string{r.GetParent() + "/role-grants"}
		},
	},
}

// listed names the entries a ListEntries call returned (S-2-3: whose data was processed), not
// only the list: "tenants/{t}/units/{u}/ledger/entries/" and their indexes, runs written as
// ranges ("0-99,120,130-131"), split into as many subjects as it takes for each to fit an entry
// field (entry.MaxStringBytes). An empty page read nothing and records nothing.
func listed(req, resp any) []string {
	r, ok1 := req.(*ledgerv1.ListEntriesRequest)
	l, ok2 := resp.(*ledgerv1.ListEntriesResponse)
	if !ok1 || !ok2 {
		return nil
	}
	prefix := r.GetParent() + "/ledger/entries/"
	var out []string
	var b strings.Builder
	es := l.GetEntries()
	for i := 0; i < len(es); {
		j := i // es[i..j] is a run of consecutive indexes
		for j+1 < len(es) && es[j+1].GetIndex() == es[j].GetIndex()+1 {
			j++
		}
		run := strconv.FormatInt(es[i].GetIndex(), 10)
		if j > i {
			run += "-" + strconv.FormatInt(es[j].GetIndex(), 10)
		}
		if b.Len() > 0 && b.Len()+1+len(run) > entry.MaxStringBytes {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(prefix)
		} else {
			b.WriteByte(',')
		}
		b.WriteString(run)
		i = j + 1
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
