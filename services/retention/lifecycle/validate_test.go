package lifecycle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
)

// rules maps each violated field to the rule it names.
func rules(vs apierr.Violations) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		out[v.Field] = v.Rule
	}
	return out
}

func fileRule() *retentionv1.Rule {
	return &retentionv1.Rule{DisplayName: "회원 관리", Target: retentionv1.RuleTarget_RULE_TARGET_FILE, PeriodDays: 365,
		ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_AUTO_DELETE,
		AutoDeleteCycle: "매일", Method: "영구삭제(복구 불가)"}
}

// Each rule of a retention rule is refused naming its LAW.md id.
func TestValidateRuleNamesTheLaw(t *testing.T) {
	var ok apierr.Violations
	ValidateRule(&ok, fileRule())
	require.Empty(t, ok)
	for _, c := range []struct {
		name, field, rule string
		mut               func(*retentionv1.Rule)
	}{
		// STD-41-2: a site's recordings are kept from the day they were recorded.
		{"site clock", "rule.clock_start", "STD-41-2", func(r *retentionv1.Rule) {
			r.Target, r.ClockStart = retentionv1.RuleTarget_RULE_TARGET_SITE, retentionv1.ClockStart_CLOCK_START_COLLECTION
		}},
		// STD-55: a request's or ledger entry's personal fields go by a plan the CPO approves.
		{"requests by plan", "rule.action", "STD-55", func(r *retentionv1.Rule) {
			r.Target, r.ClockStart = retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS, retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED
		}},
		// DEC-16: the method shows the destruction is irrecoverable.
		{"method", "rule.method", "DEC-16", func(r *retentionv1.Rule) { r.Method = " " }},
		// STD-42-2: an automatic deletion is recorded with its cycle.
		{"cycle", "rule.auto_delete_cycle", "STD-42-2", func(r *retentionv1.Rule) { r.AutoDeleteCycle = "" }},
		// STD-60: a period is set, within the tiers.
		{"period", "rule.period_days", "STD-60", func(r *retentionv1.Rule) { r.PeriodDays = maxPeriodDays + 1 }},
		// PIPA-21-1: a file's period runs from collection, consent or the purpose's achievement.
		{"file clock", "rule.clock_start", "PIPA-21-1", func(r *retentionv1.Rule) {
			r.ClockStart = retentionv1.ClockStart_CLOCK_START_RECORDING
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fileRule()
			c.mut(r)
			var vs apierr.Violations
			ValidateRule(&vs, r)
			require.Equal(t, c.rule, rules(vs)[c.field], "%v", vs)
		})
	}
}

// DEC-16, STD-42-2: a plan's completion states how, by whom and when; not in the future.
func TestValidateCompletionNamesTheLaw(t *testing.T) {
	now := kst(2026, 11, 30, 12)
	var vs apierr.Violations
	when := ValidateCompletion(&vs, &retentionv1.CompletePlanRequest{
		DestructionTime: timestamppb.New(now.Add(time.Hour))}, now)
	require.Equal(t, map[string]string{"method": "DEC-16", "destroyed_by": "STD-42-2", "destruction_time": "STD-42-2"}, rules(vs))
	require.True(t, when.IsZero())

	vs = nil
	when = ValidateCompletion(&vs, &retentionv1.CompletePlanRequest{Method: "파쇄", DestroyedBy: "주무관 송승학"}, now)
	require.Empty(t, vs)
	require.Equal(t, now, when, "no time stated: now")
}

// C-9: an outcome carries the recipient's notice; a returned copy's destruction here is recorded
// (DEC-16, STD-42-2); an extension states a new date, not before today (Asia/Seoul), and why.
func TestValidateOutcomeNamesTheLaw(t *testing.T) {
	now := kst(2026, 11, 30, 12)
	check := func(o *retentionv1.CopyOutcome) map[string]string {
		var vs apierr.Violations
		ValidateOutcome(&vs, o, now)
		return rules(vs)
	}
	require.Empty(t, check(&retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "형사과-2345"}))
	require.Equal(t, "C-9", check(&retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED})["outcome.evidence"])
	require.Equal(t, map[string]string{"outcome.destruction_method": "DEC-16", "outcome.destroyed_by": "STD-42-2",
		"outcome.destruction_time": "STD-42-2"},
		check(&retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED, Evidence: "반환 공문"}))
	require.Equal(t, map[string]string{"outcome.new_due_date": "C-9", "outcome.reason": "C-9"},
		check(&retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, Evidence: "연장 요청", NewDueDate: "2026-11-29"}))
	require.Empty(t, check(&retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, Evidence: "연장 요청",
		NewDueDate: "2026-11-30", Reason: "수사 계속"}), "today (Asia/Seoul) is not in the past")
}

// PIPA-21-1: a hold keeps data past their period only for a stated reason, and is reviewed.
func TestValidateHoldNamesTheLaw(t *testing.T) {
	now := kst(2026, 11, 30, 12)
	var vs apierr.Violations
	ValidateHold(&vs, &retentionv1.Hold{Custodian: "관리책임자", ReviewDate: "2026-11-29"}, now)
	require.Equal(t, map[string]string{"hold.reason": "PIPA-21-1", "hold.review_date": "PIPA-21-1"}, rules(vs))
	vs = nil
	ValidateHold(&vs, &retentionv1.Hold{Reason: "수사 협조", Custodian: "관리책임자", ReviewDate: "2026-11-30"}, now)
	require.Empty(t, vs)
}
