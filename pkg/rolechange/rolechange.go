// Package rolechange is the record of a staff role granted, changed or revoked (S-5: kept at least
// three years): the ROLE_CHANGE ledger entry, of a registry officer's roles in its unit's log or
// of the roles a token presented (pkg/rolegrant) in its tenant's own log, and the way back from
// the entry to the change (FromEntry), from which the tenant's role-grant history is read.
package rolechange

import (
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// The purposes of a ROLE_CHANGE entry (S-5: 부여, 변경, 말소).
const (
	Granted = "권한 부여"
	Changed = "권한 변경"
	Revoked = "권한 말소"
)

// The sources of roles that reach pipa in bearer tokens (Change.Source), as the role-grant
// history (pkg/rolegrant) names them.
const (
	SourceToken = "pipa token"
	SourceOIDC  = "OIDC 로그인"
)

// Purposes are the purposes a ROLE_CHANGE entry may state.
var Purposes = []string{Granted, Changed, Revoked}

// KeptUntil is the earliest time a ROLE_CHANGE entry recorded at occur may be erased (S-5): three
// calendar years after it.
func KeptUntil(occur time.Time) time.Time { return occur.AddDate(3, 0, 0) }

// Set is a set of role names.
type Set []string

// Normal is s sorted without duplicates or empty names, so that two sets compare by content.
func (s Set) Normal() Set {
	out := slices.DeleteFunc(slices.Clone(s), func(r string) bool { return strings.TrimSpace(r) == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// Change is one account's roles as they were and as they are.
type Change struct {
	// Account is whose roles changed: an officer's resource name, or a token's subject.
	Account string
	// Name is the account's display name, when the roles came with one (a token's "name").
	Name string
	// Before and After are the roles held before and after; an empty Before is a grant, an
	// empty After a revocation.
	Before, After Set
	// Source is where the roles come from, e.g. "등록부 담당자".
	Source string
	// By is who made the change: for an officer the registry's caller, for a token its issuer.
	By string
	// At is when.
	At time.Time
}

// Purpose says what going from the normal sets before to after is: Granted when there was none
// before, Revoked when none is left, else Changed.
func Purpose(before, after Set) string {
	switch {
	case len(before) == 0:
		return Granted
	case len(after) == 0:
		return Revoked
	}
	return Changed
}

// Entry is the ROLE_CHANGE entry of c, or nil when c changes nothing (the same roles before and
// after).
func Entry(c Change) *ledgerv1.Entry {
	before, after := c.Before.Normal(), c.After.Normal()
	if slices.Equal(before, after) {
		return nil
	}
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, OccurTime: timestamppb.New(c.At),
		Actor: c.Account, Subject: c.Name, Purpose: Purpose(before, after), Items: after, Form: c.Source, Handler: c.By}
	if len(before) > 0 {
		e.Note = beforePrefix + strings.Join(before, beforeSep)
	}
	return e
}

// How a ROLE_CHANGE entry's note states the roles held before.
const (
	beforePrefix = "이전 권한: "
	beforeSep    = ", "
)

// FromEntry reads back the change a ROLE_CHANGE entry records (Entry's inverse), so that a list of
// role changes is read from the tamper-evident leaves themselves.
func FromEntry(e *ledgerv1.Entry) Change {
	c := Change{Account: e.GetActor(), Name: e.GetSubject(), After: Set(e.GetItems()), Source: e.GetForm(),
		By: e.GetHandler(), At: e.GetOccurTime().AsTime()}
	if b, ok := strings.CutPrefix(e.GetNote(), beforePrefix); ok && b != "" {
		c.Before = strings.Split(b, beforeSep)
	}
	return c
}
