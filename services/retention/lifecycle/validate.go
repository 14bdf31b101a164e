package lifecycle

import (
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Field validation of what officers and services send. Every rule names its field and, where the
// Act sets it, its LAW.md id.

const (
	maxText = 4000
	// MaxDescription keeps a batch's file name, which names an item, within a ledger line.
	MaxDescription = 1000
	// maxPeriodDays bounds a period: the longest tier below 영구 in STD-60's 별표1 is 30 years.
	maxPeriodDays = 366 * 30
)

func CheckText(vs *apierr.Violations, field, v string, required bool) {
	CheckLen(vs, field, v, required, maxText)
}

func CheckLen(vs *apierr.Violations, field, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		vs.Add(field, "required", "must not be empty")
	case len(v) > max:
		vs.Add(field, "range", "must be at most %d bytes", max)
	case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
		vs.Add(field, "format", "must be UTF-8 text without NUL")
	}
}

// parseDate checks a YYYY-MM-DD day; it returns the day at 00:00 in Asia/Seoul.
func ParseDate(vs *apierr.Violations, field, v, rule string) (time.Time, bool) {
	d, err := time.ParseInLocation(time.DateOnly, v, seoul.Location)
	if err != nil {
		vs.Add(field, rule, "must be a date YYYY-MM-DD (got %q)", v)
		return time.Time{}, false
	}
	return d, true
}

// checkPast checks a timestamp stating when something happened: a valid one, not after now.
// It returns the time, or the zero time when it is absent or refused.
func CheckPast(vs *apierr.Violations, field, rule string, ts *timestamppb.Timestamp, required bool, now time.Time) time.Time {
	switch {
	case ts == nil:
		if required {
			vs.Add(field, rule, "when it happened is required")
		}
	case ts.CheckValid() != nil:
		vs.Add(field, rule, "not a valid timestamp: %v", ts.CheckValid())
	case ts.AsTime().After(now):
		vs.Add(field, rule, "must not be in the future: the record states what happened")
	default:
		return ts.AsTime()
	}
	return time.Time{}
}

// clockStarts lists the clocks each target may use, and the rule that says so.
var clockStarts = map[retentionv1.RuleTarget]struct {
	allowed []retentionv1.ClockStart
	rule    string
	say     string
}{
	// STD-41-2: CCTV recordings are kept a number of days after they were recorded.
	retentionv1.RuleTarget_RULE_TARGET_SITE: {[]retentionv1.ClockStart{retentionv1.ClockStart_CLOCK_START_RECORDING},
		"STD-41-2", "a site's recordings are kept from the day they were recorded: CLOCK_START_RECORDING"},
	retentionv1.RuleTarget_RULE_TARGET_FILE: {[]retentionv1.ClockStart{retentionv1.ClockStart_CLOCK_START_COLLECTION,
		retentionv1.ClockStart_CLOCK_START_CONSENT, retentionv1.ClockStart_CLOCK_START_PURPOSE_ACHIEVED},
		"PIPA-21-1", "a file's period runs from collection, consent or the purpose's achievement"},
	retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS: {[]retentionv1.ClockStart{retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED},
		"PIPA-21-1", "a request's record is kept from its closing: CLOCK_START_REQUEST_CLOSED"},
	retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES: {[]retentionv1.ClockStart{retentionv1.ClockStart_CLOCK_START_COLLECTION},
		"PIPA-21-1", "a ledger entry's personal fields are kept from when they were recorded: CLOCK_START_COLLECTION"},
}

// validateRule checks a rule's own fields; whether its site or file exists is the server's check.
func ValidateRule(vs *apierr.Violations, r *retentionv1.Rule) {
	CheckText(vs, "rule.display_name", r.GetDisplayName(), true)
	cs, ok := clockStarts[r.GetTarget()]
	if !ok {
		vs.Add("rule.target", "required", "target is required: SITE, FILE, CLOSED_REQUESTS or LEDGER_ENTRIES")
	} else {
		allowed := false
		for _, c := range cs.allowed {
			allowed = allowed || c == r.GetClockStart()
		}
		if !allowed {
			vs.Add("rule.clock_start", cs.rule, "%s", cs.say)
		}
	}
	if r.GetTarget() != retentionv1.RuleTarget_RULE_TARGET_SITE {
		if p := r.GetPeriodDays(); p <= 0 || p > maxPeriodDays {
			vs.Add("rule.period_days", "STD-60", "the retention period in days is required, 1 to %d (the longest tier below 영구)", maxPeriodDays)
		}
	}
	switch r.GetAction() {
	case retentionv1.Action_ACTION_AUTO_DELETE:
		// STD-42-2 2: an automatic deletion is recorded by its cycle and when it was checked.
		if strings.TrimSpace(r.GetAutoDeleteCycle()) == "" {
			vs.Add("rule.auto_delete_cycle", "STD-42-2", "an automatic deletion's cycle is required, e.g. \"매일 00시 보관기간 경과분 자동 덮어쓰기\"")
		}
		CheckText(vs, "rule.auto_delete_cycle", r.GetAutoDeleteCycle(), false)
		if t := r.GetTarget(); t == retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS || t == retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES {
			vs.Add("rule.action", "STD-55", "personal fields of requests and ledger entries are destroyed by a plan the CPO approves: ACTION_PLAN")
		}
	case retentionv1.Action_ACTION_PLAN:
		CheckText(vs, "rule.auto_delete_cycle", r.GetAutoDeleteCycle(), false)
	default:
		vs.Add("rule.action", "required", "action is required: AUTO_DELETE (the system deletes; pipa records each check) or PLAN (a plan the CPO approves)")
	}
	// DEC-16: the method shows the destruction is irrecoverable.
	if strings.TrimSpace(r.GetMethod()) == "" {
		vs.Add("rule.method", "DEC-16", "the destruction method is required, e.g. \"영구삭제(덮어쓰기, 복구 불가)\"")
	}
	CheckText(vs, "rule.method", r.GetMethod(), false)
	CheckText(vs, "rule.basis", r.GetBasis(), false)
}

// validateOutcome checks a copy's outcome as the recipient reported it; whether it follows the
// copy's state and due date is the store's check, under the copy's lock.
func ValidateOutcome(vs *apierr.Violations, in *retentionv1.CopyOutcome, now time.Time) {
	// C-9: the recipient destroys the copy and reports back (or returns it, or asks for more
	// time); its notice is the evidence.
	if in.GetEvidence() == "" {
		vs.Add("outcome.evidence", "C-9", "the recipient's notice or request is required, e.g. \"정읍경찰서 형사과-2345, 2026.6.2. 파기 통보\"")
	}
	kind := in.GetKind()
	if kind != retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED && in.GetNewDueDate() != "" {
		vs.Add("outcome.new_due_date", "C-9", "a new due date belongs to an EXTENDED outcome")
	}
	returned := kind == retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED
	if !returned && (in.GetDestructionMethod() != "" || in.GetDestroyedBy() != "" || in.GetDestructionTime() != nil) {
		vs.Add("outcome.destruction_method", "format", "the destruction here belongs to a RETURNED outcome")
	}
	switch kind {
	case retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED:
	case retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED:
		// The returned copy is destroyed here, and that destruction is recorded (STD-42-2, DEC-16).
		if in.GetDestructionMethod() == "" {
			vs.Add("outcome.destruction_method", "DEC-16", "how the returned copy was destroyed is required, e.g. \"USB 영구삭제(복구 불가)\"")
		}
		if in.GetDestroyedBy() == "" {
			vs.Add("outcome.destroyed_by", "STD-42-2", "the official who destroyed the returned copy is required (STD-42-2 3)")
		}
		CheckPast(vs, "outcome.destruction_time", "STD-42-2", in.GetDestructionTime(), true, now)
	case retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED:
		if in.GetNewDueDate() == "" {
			vs.Add("outcome.new_due_date", "C-9", "an extension states the new destruction due date (YYYY-MM-DD)")
		} else if d, ok := ParseDate(vs, "outcome.new_due_date", in.GetNewDueDate(), "C-9"); ok && seoul.Date(d) < seoul.Date(now) {
			vs.Add("outcome.new_due_date", "C-9", "must not be before today (%s, Asia/Seoul)", seoul.Date(now))
		}
		if in.GetReason() == "" {
			vs.Add("outcome.reason", "C-9", "an extension states why, e.g. the recipient's request for more time")
		}
	default:
		vs.Add("outcome.kind", "required", "kind is required: DESTROYED, RETURNED or EXTENDED")
	}
	CheckText(vs, "outcome.evidence", in.GetEvidence(), false)
	CheckText(vs, "outcome.reason", in.GetReason(), false)
	CheckText(vs, "outcome.destruction_method", in.GetDestructionMethod(), false)
	CheckText(vs, "outcome.destroyed_by", in.GetDestroyedBy(), false)
}

// validateCompletion checks how, by whom and when a plan's data were destroyed; it returns the
// destruction time, now when none is stated.
func ValidateCompletion(vs *apierr.Violations, req *retentionv1.CompletePlanRequest, now time.Time) time.Time {
	// DEC-16: how, irrecoverably; STD-42-2: by whom and when.
	if req.GetMethod() == "" {
		vs.Add("method", "DEC-16", "the destruction method is required, e.g. \"영구삭제(복구 불가)\" or \"파쇄\"")
	}
	CheckText(vs, "method", req.GetMethod(), false)
	if req.GetDestroyedBy() == "" {
		vs.Add("destroyed_by", "STD-42-2", "the official who destroyed the data is required (STD-42-2 3)")
	}
	CheckText(vs, "destroyed_by", req.GetDestroyedBy(), false)
	if t := req.GetDestructionTime(); t != nil {
		return CheckPast(vs, "destruction_time", "STD-42-2", t, false, now)
	}
	return now
}

// validateHold checks a hold's own fields; what it covers is the server's check (holdScope).
func ValidateHold(vs *apierr.Violations, h *retentionv1.Hold, now time.Time) {
	if strings.TrimSpace(h.GetReason()) == "" {
		// PIPA-21-1: data past their period are kept only for a reason the law accepts.
		vs.Add("hold.reason", "PIPA-21-1", "say why the data are kept past their period, e.g. an investigation's request and its number")
	}
	CheckText(vs, "hold.reason", h.GetReason(), false)
	CheckText(vs, "hold.custodian", h.GetCustodian(), true)
	if h.GetReviewDate() == "" {
		vs.Add("hold.review_date", "PIPA-21-1", "the date by which the hold is reviewed is required (YYYY-MM-DD)")
	} else if d, ok := ParseDate(vs, "hold.review_date", h.GetReviewDate(), "PIPA-21-1"); ok && seoul.Date(d) < seoul.Date(now) {
		vs.Add("hold.review_date", "PIPA-21-1", "must not be in the past")
	}
}
