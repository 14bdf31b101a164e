package ledger

import (
	"github.com/pipa-kr/pipa/pkg/accesslog"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// AccessRules are the ledger's reads of personal data (requesters' and receiving officers' names
// and contacts), recorded in the same unit's ledger as ACCESS entries (S-2-3). Appends are not
// reads, so the recorder's own appends of ACCESS entries never recurse; leaves, proofs and
// checkpoints hold only commitments, and the verifier key is public.
var AccessRules = accesslog.Rules{
	ledgerv1.LedgerService_GetEntry_FullMethodName:    accesslog.ByName((*ledgerv1.GetEntryRequest).GetName, ""),
	ledgerv1.LedgerService_ListEntries_FullMethodName: accesslog.ByName((*ledgerv1.ListEntriesRequest).GetParent, "/ledger/entries"),
}
