package entry

import (
	"fmt"
	"time"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Redactable says whether the personal values of an entry of kind that occurred at occur may be
// erased at now, by the retention service (byService: the service role on "*") or by staff (the
// CPO or the tenant's admin, checked by the caller). The error names the LAW.md rule in its
// metadata ("rule").
//
//   - S-8-3: an ACCESS entry is destroyed by the retention service alone, never by staff, whose
//     own accesses it records.
//   - S-8-1: an ACCESS entry is kept at least the shorter period (one year) after the access: the
//     retention service applies each system's own period, the ledger holds the floor. The service
//     redacts nothing but ACCESS and ROLE_CHANGE entries.
//   - S-5: a ROLE_CHANGE entry is kept three years after the change; then the retention service
//     erases it (its daily sweep of the tenant's own log), or the CPO or tenant admin does.
//   - A REDACTION entry holds no personal values.
func Redactable(kind ledgerv1.EntryKind, occur time.Time, byService bool, now time.Time) error {
	access := kind == ledgerv1.EntryKind_ENTRY_KIND_ACCESS
	roles := kind == ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE
	switch {
	case kind == ledgerv1.EntryKind_ENTRY_KIND_REDACTION:
		return apierr.Precondition("NOT_REDACTABLE", "a redaction record holds no personal values")
	case access && !byService:
		return ruled(apierr.Denied("ACCESS entries are destroyed by the retention service when their system's period ends (S-8-3), not by staff"), "S-8-3")
	case !access && !roles && byService:
		return ruled(apierr.Denied("the service role redacts only ACCESS and ROLE_CHANGE entries past their period (S-8-1, S-5); other entries are redacted by the CPO"), "S-8-1")
	}
	if until := accesslog.KeptUntil(occur, accesslog.ShortYears); access && now.Before(until) {
		return ruled(apierr.Precondition("RETENTION_PERIOD", fmt.Sprintf("an access record is kept at least %d year (S-8-1): not before %s",
			accesslog.ShortYears, until.In(seoul.Location).Format(time.DateTime))), "S-8-1")
	}
	if until := rolechange.KeptUntil(occur); roles && now.Before(until) {
		return ruled(apierr.Precondition("RETENTION_PERIOD", fmt.Sprintf("a ROLE_CHANGE entry is kept three years (S-5): not before %s",
			until.In(seoul.Location).Format(time.DateOnly))), "S-5")
	}
	return nil
}

// ruled is e naming the LAW.md rule it enforces.
func ruled(e *apierr.Error, rule string) error {
	e.Metadata = map[string]string{"rule": rule}
	return e
}
