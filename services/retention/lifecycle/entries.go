package lifecycle

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
)

// The entries retention appends to a unit's ledger, each stating what STD-42-2 asks of a
// destruction record (파일명, 일시 or 자동삭제 주기와 점검 일시, 담당자, 방법), and the C-9 amendments
// that follow a copy's PROVISION entry.

// AutoDeletion is the DESTRUCTION entry of a sweep's batch of items under rule r, recorded at now
// as checked by handler (STD-42-2 2: the automatic deletion's cycle and check time).
func AutoDeletion(r *Rule, name, handler string, items []Claimed, now time.Time) *ledgerv1.AppendEntryRequest {
	return autoDeletion(r, BatchName(name, items), handler, now, now)
}

// ConfirmedDeletion is the DESTRUCTION entry of an item a recording system deleted itself at
// deleted, confirmed at now.
func ConfirmedDeletion(r *Rule, it *Item, handler string, deleted, now time.Time) *ledgerv1.AppendEntryRequest {
	return autoDeletion(r, it.Description, handler, deleted, now)
}

func autoDeletion(r *Rule, fileName, handler string, occur, checked time.Time) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: timestamppb.New(occur),
		FileName: fileName, Handler: handler,
		Purpose:           fmt.Sprintf("보유기간(%d일) 경과", r.Doc.GetPeriodDays()),
		DestructionMethod: r.Doc.GetMethod(), AutoDeleteCycle: r.Doc.GetAutoDeleteCycle(),
		AutoDeleteCheckedTime: timestamppb.New(checked)}}
}

// PlanDestruction is the DESTRUCTION entry of what a completed plan destroyed under one rule: the
// official who destroyed it, how and when, and the plan (STD-55).
func PlanDestruction(p *retentionv1.Plan, g RuleGroup) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: p.GetDestructionTime(),
		FileName: GroupName(g), Handler: p.GetDestroyedBy(), Purpose: p.GetReason(),
		DestructionMethod: p.GetMethod(), Plan: p.GetName()}}
}

// checkedBy marks the official of an automatic deletion's record as the one who checks it.
const checkedBy = " (자동 삭제 점검)"

// unnamedManager stands for the official when the unit names no CCTV manager or CPO.
const unnamedManager = "관리책임자 미지정"

// AutoDeleteHandler is the 담당자 (STD-42-2 3) of an automatic deletion's record: the official
// who answers for it and whose check the record states — the site's CCTV manager (manager, nil
// when the site names none), or failing one the unit's head (DepartmentHead) — never a program.
// named is false when neither exists, and the record says so.
func AutoDeleteHandler(manager *registryv1.Officer, head string) (handler string, named bool) {
	switch {
	case manager != nil:
		return OfficerName(manager) + checkedBy, true
	case head != "":
		return head + checkedBy, true
	}
	return unnamedManager + checkedBy, false
}

// DepartmentHead is the 처리부서장 of the unit's 별지5 rows among its officers: its CCTV manager
// (관리책임자), or failing one its CPO; empty when it has neither.
func DepartmentHead(officers []*registryv1.Officer) string {
	var best *registryv1.Officer
	rank := func(o *registryv1.Officer) int {
		switch {
		case slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER):
			return 2
		case slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CPO):
			return 1
		}
		return 0
	}
	for _, o := range officers {
		if rank(o) > 0 && (best == nil || rank(o) > rank(best)) {
			best = o
		}
	}
	if best == nil {
		return ""
	}
	return OfficerName(best)
}

// BatchName is the file name (STD-42-2 1) of a batch: a site's recording days as a range, e.g.
// "중앙도서관 녹화분 2026-10-01~2026-10-03 (3일)", or a file's batches by their descriptions.
func BatchName(name string, items []Claimed) string {
	if items[0].RecordingDate == nil {
		if len(items) == 1 {
			return name + ": " + items[0].Description
		}
		return fmt.Sprintf("%s: %s 외 %d건", name, items[0].Description, len(items)-1)
	}
	first, last := *items[0].RecordingDate, *items[0].RecordingDate
	for _, it := range items[1:] {
		if d := *it.RecordingDate; d.Before(first) {
			first = d
		} else if d.After(last) {
			last = d
		}
	}
	span := int(last.Sub(first).Hours()/24) + 1
	days := first.Format(time.DateOnly)
	if span > 1 {
		days += "~" + last.Format(time.DateOnly)
	}
	if span == len(items) {
		return fmt.Sprintf("%s 녹화분 %s (%d일)", name, days, len(items))
	}
	return fmt.Sprintf("%s 녹화분 %s 중 %d일", name, days, len(items))
}

// GroupName is the file name (STD-42-2 1) of what a plan destroys under one rule.
func GroupName(g RuleGroup) string {
	name := g.Rule.Doc.GetDisplayName()
	if g.FirstDay != nil {
		return fmt.Sprintf("%s 녹화분 %s~%s (%d일)", name, g.FirstDay.Format(time.DateOnly), g.LastDay.Format(time.DateOnly), g.Count)
	}
	return fmt.Sprintf("%s %d건", name, g.Count)
}

// OfficerName is how a record names an officer: title and name, e.g. "소장 송현숙".
func OfficerName(o *registryv1.Officer) string {
	if o.GetDisplayName() == "" {
		return o.GetTitle()
	}
	return o.GetTitle() + " " + o.GetDisplayName()
}
