package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Registration is a new item as registered: what it names under its rule, checked.
type Registration struct {
	// ByService: the request service registers its own closed request, stating when it closed.
	ByService bool
	Now       time.Time
}

// NewItemOf checks item in, registered under rule of the tenant's unit, against what its rule's
// target asks, and returns the item to store with its clock start, hold scope and default
// description: a site's recording day (STD-41-2), a file's batch, a closed request (its close
// time starts the clock, PIPA-21-1), or a ledger entry's personal fields (its occur time, unless
// given). What it names is looked up in the registry and the other services with the caller's
// credential (ctx).
func NewItemOf(ctx context.Context, reg Registry, recs Records, vs *apierr.Violations, tenant, unit string, rule *Rule,
	in *retentionv1.Item, at Registration) (NewItem, error) {
	n := NewItem{RuleID: rule.ID, Description: in.GetDescription(), RecordCount: in.GetRecordCount(),
		Resource: in.GetResource(), PeriodDays: rule.Doc.GetPeriodDays()}
	CheckLen(vs, "item.description", in.GetDescription(), false, MaxDescription)
	if in.GetRecordCount() < 0 {
		vs.Add("item.record_count", "range", "must not be negative")
	}
	target := rule.Doc.GetTarget()
	if t := in.GetClockStartTime(); t != nil && t.CheckValid() != nil {
		vs.Add("item.clock_start_time", "PIPA-21-1", "not a valid timestamp: %v", t.CheckValid())
		return n, nil
	}
	if in.GetRecordingDate() != "" && target != retentionv1.RuleTarget_RULE_TARGET_SITE {
		vs.Add("item.recording_date", "STD-41-2", "a recording day belongs to an item of a site's rule")
	}
	if in.GetResource() != "" && (target == retentionv1.RuleTarget_RULE_TARGET_SITE || target == retentionv1.RuleTarget_RULE_TARGET_FILE) {
		vs.Add("item.resource", "format", "a site's or file's item names no resource; its rule does")
	}
	var err error
	switch target {
	case retentionv1.RuleTarget_RULE_TARGET_SITE:
		siteDay(ctx, reg, vs, rule, in, &n, at.Now)
	case retentionv1.RuleTarget_RULE_TARGET_FILE:
		fileBatch(vs, rule, in, &n, at.Now)
	case retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS:
		err = closedRequest(ctx, recs, vs, tenant, unit, in, &n, at.ByService)
	case retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES:
		err = entryFields(ctx, recs, vs, tenant, unit, in, &n)
	}
	return n, err
}

// siteDay: a site's item is one recording day, kept from when it was recorded (STD-41-2).
func siteDay(ctx context.Context, reg Registry, vs *apierr.Violations, rule *Rule, in *retentionv1.Item, n *NewItem, now time.Time) {
	n.Scope = rule.Doc.GetResource()
	if in.GetRecordingDate() == "" {
		vs.Add("item.recording_date", "STD-41-2", "a site's item is one recording day (YYYY-MM-DD)")
		return
	}
	d, ok := ParseDate(vs, "item.recording_date", in.GetRecordingDate(), "STD-41-2")
	if !ok {
		return
	}
	if seoul.Date(d) > seoul.Date(now) {
		vs.Add("item.recording_date", "STD-41-2", "must not be in the future: a recording day is kept from when it was recorded")
	}
	n.RecordingDate, n.ClockStart = &d, d
	if n.Description == "" {
		n.Description = siteName(ctx, reg, rule) + " " + seoul.Date(d) + " 녹화분"
	}
}

// siteName is the site's display name as the registry has it, or its id when it is gone, with
// the rule's zone.
func siteName(ctx context.Context, reg Registry, rule *Rule) string {
	site, err := reg.Site(ctx, rule.Doc.GetResource())
	if err != nil {
		return RecordedName(names.Last(rule.Doc.GetResource()), rule.Doc.GetZone())
	}
	return RecordedName(site.GetDisplayName(), rule.Doc.GetZone())
}

// fileBatch: a file's item is a batch, described, whose period started when the rule's clock
// says (PIPA-21-1).
func fileBatch(vs *apierr.Violations, rule *Rule, in *retentionv1.Item, n *NewItem, now time.Time) {
	n.Scope = rule.Doc.GetResource()
	if strings.TrimSpace(in.GetDescription()) == "" { // its length is NewItemOf's check
		vs.Add("item.description", "required", "must not be empty")
	}
	if in.GetClockStartTime() == nil {
		vs.Add("item.clock_start_time", "PIPA-21-1", "when the batch's period started is required (%s)", rule.Doc.GetClockStart())
	} else if n.ClockStart = in.GetClockStartTime().AsTime(); n.ClockStart.After(now) {
		vs.Add("item.clock_start_time", "PIPA-21-1", "must not be in the future")
	}
}

// closedRequest: a request's record is kept from its close (PIPA-21-1). The request service
// states the close time of its own request; anyone else's is read from the request service.
func closedRequest(ctx context.Context, recs Records, vs *apierr.Violations, tenant, unit string, in *retentionv1.Item, n *NewItem, byService bool) error {
	n.Scope = in.GetResource()
	if !names.Requests.In(tenant, unit, in.GetResource()) {
		vs.Add("item.resource", "format", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
		return nil
	}
	if byService {
		if in.GetClockStartTime() == nil {
			vs.Add("item.clock_start_time", "PIPA-21-1", "the request's close time is required")
		} else {
			n.ClockStart = in.GetClockStartTime().AsTime()
		}
		if n.Description == "" {
			n.Description = names.Last(in.GetResource()) + " 요구 처리기록의 개인정보"
		}
		return nil
	}
	r, err := recs.Request(ctx, in.GetResource())
	if apierr.KindOf(err) == apierr.KindNotFound {
		vs.Add("item.resource", "exists", "no such request: %s", in.GetResource())
		return nil
	}
	if err != nil {
		return err
	}
	if r.GetState() != requestsv1.RequestState_REQUEST_STATE_CLOSED || r.GetCloseTime() == nil {
		return apierr.Precondition("REQUEST_NOT_CLOSED", in.GetResource()+" is not closed: its record's period starts when it closes (PIPA-21-1)")
	}
	n.ClockStart = r.GetCloseTime().AsTime()
	if n.Description == "" {
		n.Description = r.GetReceiptNumber() + " 요구 처리기록의 개인정보"
	}
	return nil
}

// entryFields: a ledger entry's personal fields are kept from when they were recorded. A hold on
// the request an entry records covers the entry; one on the entry itself, an entry of no request.
func entryFields(ctx context.Context, recs Records, vs *apierr.Violations, tenant, unit string, in *retentionv1.Item, n *NewItem) error {
	e, err := unitEntry(ctx, recs, vs, "item.resource", "PIPA-21-1", tenant, unit, in.GetResource())
	if e == nil || err != nil {
		return err
	}
	n.Scope = e.GetRequest()
	if n.Scope == "" {
		n.Scope = in.GetResource()
	}
	if e.GetRedacted() {
		return apierr.Precondition("ALREADY_REDACTED", in.GetResource()+"'s personal fields are already erased")
	}
	// S-8-1: an access record is kept for its system's period and destroyed by the sweep (ClassifyAccess),
	// never by a rule's item.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ACCESS {
		vs.Add("item.resource", "S-8-1", "an ACCESS entry is kept for its system's period and destroyed by the sweep, not by a rule")
		return nil
	}
	n.ClockStart = e.GetOccurTime().AsTime()
	if t := in.GetClockStartTime(); t != nil {
		n.ClockStart = t.AsTime()
	}
	// S-5: the record of a role's grant, change or revocation is kept at least three years; a
	// rule that would erase it sooner does not take it.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE {
		if due, until := n.ClockStart.AddDate(0, 0, int(n.PeriodDays)), rolechange.KeptUntil(e.GetOccurTime().AsTime()); due.Before(until) {
			vs.Add("item.resource", "S-5", "a ROLE_CHANGE entry is kept three years, until %s; this rule would erase it on %s",
				seoul.Date(until), seoul.Date(due))
		}
	}
	if n.Description == "" {
		n.Description = fmt.Sprintf("관리대장 %d번 항목의 개인정보", e.GetIndex())
	}
	return nil
}

// ItemView is an item as served, its state as of now: past its due time it is due, held while a
// hold covers it, and overdue 5 days later unless held (STD-10-1).
func ItemView(it *Item, now time.Time) *retentionv1.Item {
	out := &retentionv1.Item{Name: it.Name(), Rule: names.Rules.Name(it.Tenant, it.Unit, it.RuleID),
		Description: it.Description, RecordCount: it.RecordCount, Resource: it.Resource,
		ClockStartTime: timestamppb.New(it.ClockStart), DueTime: timestamppb.New(it.Due), CreateTime: timestamppb.New(it.Create)}
	if d := it.RecordingDate; d != nil {
		out.RecordingDate = d.Format(time.DateOnly)
	}
	if it.PlanID != nil {
		out.Plan = names.Plans.NameN(it.Tenant, it.Unit, *it.PlanID)
	}
	due := !now.Before(it.Due)
	switch it.Status {
	case Destroyed:
		out.State, out.DestructionTime, out.LedgerIndex = retentionv1.ItemState_ITEM_STATE_DESTROYED, timestamppb.New(*it.Destruction), *it.LedgerIndex
		return out
	case Planned:
		out.State = retentionv1.ItemState_ITEM_STATE_PLANNED
	case Kept:
		switch {
		case !due:
			out.State = retentionv1.ItemState_ITEM_STATE_RETAINED
		case len(it.Holds) > 0:
			out.State = retentionv1.ItemState_ITEM_STATE_HELD
		default:
			out.State = retentionv1.ItemState_ITEM_STATE_DUE
		}
	default:
		out.State = retentionv1.ItemState_ITEM_STATE_DUE
	}
	for _, h := range it.Holds {
		out.Holds = append(out.Holds, names.Holds.NameN(it.Tenant, it.Unit, h))
	}
	out.Overdue = len(it.Holds) == 0 && !now.Before(it.OverdueTime)
	return out
}

// DeletionTime is when a recording system says it deleted an item (STD-42-2 2: the record states
// it): a valid time not in the future, or now when it says none.
func DeletionTime(t *timestamppb.Timestamp, now time.Time) (time.Time, error) {
	if t == nil {
		return now, nil
	}
	var vs apierr.Violations
	deleted := CheckPast(&vs, "deletion_time", "STD-42-2", t, false, now)
	return deleted, vs.Err()
}

// CheckAutoDelete checks that a recording system may confirm deleting items of rule: items of an
// automatic rule, not a plan's, which the CPO approves (STD-55).
func CheckAutoDelete(rule *Rule) error {
	if rule.Doc.GetAction() != retentionv1.Action_ACTION_AUTO_DELETE {
		return apierr.Precondition("NOT_AUTO_DELETE", "items of "+rule.Doc.GetName()+" are destroyed by a plan the CPO approves (STD-55), not by automatic deletion")
	}
	return nil
}

// CheckConfirmation checks that a recording system may confirm, at now, that it deleted item it
// at deleted: not in a plan, not held (PIPA-21-1), due under its published period (STD-41-2), and
// deleted no earlier than that (STD-42-2).
func CheckConfirmation(it *Item, deleted, now time.Time) error {
	due := func() string { return it.Due.In(seoul.Location).Format("2006-01-02 15:04") }
	switch {
	case it.Status == Planned:
		return apierr.Precondition("ITEM_PLANNED", it.Name()+" is in "+names.Plans.NameN(it.Tenant, it.Unit, *it.PlanID))
	case len(it.Holds) > 0:
		return apierr.Precondition("ITEM_HELD", fmt.Sprintf("%s is under a legal hold (%d); it must not be deleted until the hold is released",
			it.Name(), it.Holds[0]))
	case now.Before(it.Due):
		return apierr.Precondition("NOT_DUE", it.Name()+" is kept until "+due()+" under its published retention period (STD-41-2)")
	case deleted.Before(it.Due):
		return apierr.Invalid(apierr.Violation{Field: "deletion_time", Rule: "STD-42-2",
			Description: "must not be before the item's due time " + due() + ": it was kept until then under its published retention period"})
	}
	return nil
}
