package lifecycle

import (
	"time"

	"golang.org/x/mod/sumdb/note"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// The retention domain's records, as the store keeps them and the service reasons about them.

// Rule is a stored rule.
type Rule struct {
	Tenant, Unit, ID string
	Doc              *retentionv1.Rule
	// StartDate is the first recording day a site rule keeps: its create day in Asia/Seoul less
	// its period, the footage already on the recorder.
	StartDate        time.Time
	GeneratedThrough *time.Time
	Deleted          *time.Time
}

// Hold is a stored hold.
type Hold struct {
	Tenant, Unit string
	ID           int64
	Doc          *retentionv1.Hold
}

// SweepRecord is what a sweep writes about itself.
type SweepRecord struct {
	Time                              time.Time
	Destroyed, Planned, Held, Overdue int64
	HoldsChecked, Plans               []string
	// AccessDestroyed counts the access records redacted (S-8-1); UnclassifiedSystems are the
	// unit's systems no file classifies.
	AccessDestroyed     int64
	UnclassifiedSystems []string
}

// Item statuses as stored. Due, held and overdue are not stored: they follow from the time and
// the active holds.
const (
	Kept       int16 = 1
	Destroying int16 = 2 // its batch's ledger entry is in the outbox
	Planned    int16 = 3
	Destroyed  int16 = 4
)

// Item is a stored item.
type Item struct {
	Tenant, Unit    string
	ID              int64
	RuleID          string
	Status          int16
	RecordingDate   *time.Time
	Description     string
	RecordCount     int64
	Resource        string
	ClockStart, Due time.Time
	PlanID          *int64
	Destruction     *time.Time
	LedgerIndex     *int64
	// Holds are the active holds covering it.
	Holds  []int64
	Create time.Time
	// OverdueTime is when it becomes overdue unless destroyed or held (STD-10-1).
	OverdueTime time.Time
}

// Name is the item's resource name.
func (i *Item) Name() string { return names.Items.NameN(i.Tenant, i.Unit, i.ID) }

// NewItem is an item to register. Scope is what a hold names to cover it (the rule's site or
// file, or the item's request); a site's recording day has its span in Asia/Seoul.
type NewItem struct {
	RuleID, Scope, Description, Resource string
	RecordingDate                        *time.Time
	RecordCount                          int64
	ClockStart                           time.Time
	PeriodDays                           int32
}

// Claimed is an item a sweeper took for destruction.
type Claimed struct {
	ID            int64
	RecordingDate *time.Time
	Description   string
}

// Plan is a stored destruction plan (파기요청서).
type Plan struct {
	Tenant, Unit string
	ID           int64
	Doc          *retentionv1.Plan
	// FirstDue is the earliest due time of its items; OverdueTime is 5 days later (STD-10-1).
	FirstDue, OverdueTime time.Time
}

// Erasure is a plan item whose personal fields live in another service.
type Erasure struct {
	ItemID   int64
	Target   retentionv1.RuleTarget
	Resource string
}

// RuleGroup is what a plan destroys under one rule.
type RuleGroup struct {
	Rule              *Rule
	Count             int64
	FirstDay, LastDay *time.Time
}

// PlanItem is an item of a completed plan, as its certificate lists it, with its DESTRUCTION
// entry's index and leaf hash.
type PlanItem struct {
	ID                  int64
	RuleID, Description string
	ClockStart          time.Time
	LedgerIndex         int64
	LeafHash            []byte
}

// Copy is a stored copy given out, with its outcomes.
type Copy struct {
	Tenant, Unit string
	ID           int64
	// Doc.OutcomePending is set while its last outcome's entries are not yet in the ledger.
	Doc *retentionv1.Copy
}

// Outcome is a copy's outcome to record: its document, the entries that record it (the AMENDMENT
// and, for a returned copy, the DESTRUCTION that follows it), and the state and due date it
// gives the copy once they are in the ledger.
type Outcome struct {
	Doc                    *retentionv1.CopyOutcome
	Amendment, Destruction *ledgerv1.AppendEntryRequest
	State                  retentionv1.CopyState
	// DueDate is the new destruction due date (YYYY-MM-DD), or empty.
	DueDate string
}

// TenantKey signs a tenant's destruction certificates.
type TenantKey struct {
	Signer   note.Signer
	Verifier string
}
