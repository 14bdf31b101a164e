package register

import (
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// PostingDays is how long a notice's posting stays up at least (DEC-28-5: 30일 이상): its last
// day is at least this many days after its first.
const PostingDays = 30

// ValidateNotice checks a notice to the subjects of a marketing task (field names under
// "notice."), before the registry sets what it told: sent by 서면등 with its day and method
// (DEC-28-4), or, when the body could not send it without its fault, posted from today for at
// least PostingDays (DEC-28-5).
func ValidateNotice(n *registryv1.SubjectNotice, today policy.Date) apierr.Violations {
	var vs apierr.Violations
	text(&vs, "notice.method", n.GetMethod())
	text(&vs, "notice.posting_reason", n.GetPostingReason())
	if strings.TrimSpace(n.GetPostingReason()) == "" {
		if n.GetDate() == "" {
			vs.Add("notice.date", "PIPA-26-3", "the day the subjects were told is required")
		}
		dateField(&vs, "notice.date", n.GetDate(), "PIPA-26-3", today)
		if strings.TrimSpace(n.GetMethod()) == "" {
			vs.Add("notice.method", "DEC-28-4", "say how the subjects were told (서면, 전자우편, 팩스, 전화, 문자전송 등)")
		}
		if n.GetPostingEndDate() != "" {
			vs.Add("notice.posting_end_date", "DEC-28-5", "a posting needs posting_reason: why the subjects could not be told by 서면등")
		}
		return vs
	}
	if n.GetDate() != "" && n.GetDate() != today.String() {
		vs.Add("notice.date", "DEC-28-5", "a posting starts on the day it is recorded (%s): leave date empty (got %s)", today, n.GetDate())
	}
	if n.GetPostingEndDate() != "" {
		end := plannedField(&vs, "notice.posting_end_date", n.GetPostingEndDate())
		if least := today.AddDays(PostingDays); !end.IsZero() && end.Before(least) {
			vs.Add("notice.posting_end_date", "DEC-28-5", "a posting stays up at least %d days: its last day is %s or later (got %s)",
				PostingDays, least, n.GetPostingEndDate())
		}
	}
	return vs
}

// noticeDuty adds the notice a marketing contract c of processor p owes (PIPA-26-3), if any: the
// first, due on the day the task was entrusted (the contract's signed date, else the processor's
// contract start; undated without either); again once the processor or the task differs from what
// the latest notice told, due on the day the registry recorded the processor as it now stands
// (its update_time, Asia/Seoul). The Act sets no number of days for either ("위탁하는 경우",
// "변경된 경우"): pipa takes the day of the event itself, as pkg/obligation dates a duty, so the
// duty shows D-0 on that day and is overdue after it. A notice recorded before the registry
// kept what it told (migration 00005) cannot be compared: a new notice is due.
func noticeDuty(add func(resource, rule, title string, due policy.Date), p *registryv1.Processor, c *registryv1.ProcessorContract,
	notices []*registryv1.SubjectNotice, start policy.Date, label string) {
	if !c.GetMarketing() {
		return
	}
	if len(notices) == 0 {
		add(c.GetName(), "PIPA-26-3", fmt.Sprintf("홍보·판매 권유 업무 위탁 사실의 정보주체 통지 (%s)", label), start)
		return
	}
	last := notices[len(notices)-1]
	if last.GetProcessorCompany() == p.GetCompany() && last.GetTask() == p.GetWork() {
		return
	}
	var changed policy.Date
	if ut := p.GetUpdateTime(); ut != nil {
		changed = policy.Today(ut.AsTime())
	}
	was := last.GetProcessorCompany() + ": " + last.GetTask()
	if last.GetProcessorCompany() == "" && last.GetTask() == "" {
		was = "통지 내용 기록 없음"
	}
	add(c.GetName(), "PIPA-26-3", fmt.Sprintf("수탁자·위탁업무 변경에 따른 정보주체 재통지 (%s → %s)", was, label), changed)
}

// SetPostingDays says whether n is a posting (DEC-28-5) and, when it is, sets its days: from
// today, for PostingDays unless it says until when.
func SetPostingDays(n *registryv1.SubjectNotice, today policy.Date) bool {
	if strings.TrimSpace(n.GetPostingReason()) == "" {
		return false
	}
	n.Date = today.String()
	if n.GetPostingEndDate() == "" {
		n.PostingEndDate = today.AddDays(PostingDays).String()
	}
	return true
}

// NoticeOwed refuses a notice under contract c (named parent) unless c is a marketing task, the
// only one whose subjects are owed it (PIPA-26-3).
func NoticeOwed(c *registryv1.ProcessorContract, parent string) error {
	if c.GetMarketing() {
		return nil
	}
	return apierr.Precondition("NOT_MARKETING", parent+" is not a marketing task: a notice to subjects is owed for 홍보·판매 권유 업무 (PIPA-26-3); set the contract's marketing first",
		apierr.Violation{Field: "parent", Rule: "PIPA-26-3", Description: "the contract's marketing is not set"})
}
