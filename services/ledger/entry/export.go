package entry

import (
	"io"
	"iter"
	"strconv"
	"strings"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/sheet"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SheetName is the XLSX sheet of an export, the title of seed 001 별표3.
const SheetName = "개인영상정보 관리대장"

// FormKinds are the kinds an export holds unless asked for others: the 별지 제3호 rows of 이용,
// 제공, 열람 and 파기 (STD-45), with the amendments and redactions that complete them. ACCESS
// entries are the access log (접속기록, S-2-3), another record that is exported only on request.
var FormKinds = []ledgerv1.EntryKind{
	ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION,
	ledgerv1.EntryKind_ENTRY_KIND_VIEWING, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION,
	ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, ledgerv1.EntryKind_ENTRY_KIND_REDACTION,
}

type column struct {
	header string
	width  float64 // XLSX column width, in characters
	value  func(e *ledgerv1.Entry) string
}

// columns are first the ten of 별지 제3호 (STD-45: 번호 … 기간), then the fields other rules
// require, because STD-45 says to store, and so to show an inspector, the union: the requester's
// contact (STD-44-5 1), the destruction date (C-9), items and safety requests (DEC-15 5, 8), the
// refusal and copy (STD-44-5 4, 5), the destruction method and auto-delete check (DEC-16,
// STD-42-2 2), the access-log fields (S-2-3), and the links between entries.
var columns = []column{
	{"번호", 8, func(e *ledgerv1.Entry) string { return strconv.FormatInt(e.GetIndex(), 10) }},
	{"구분", 12, func(e *ledgerv1.Entry) string { return kindLabel(e.GetKind()) }},
	{"일시", 17, func(e *ledgerv1.Entry) string { return seoulMinute(e.GetOccurTime()) }},
	{"파일명/형태", 32, func(e *ledgerv1.Entry) string { return join(" / ", e.GetFileName(), e.GetFileFormat()) }},
	{"담당자", 18, func(e *ledgerv1.Entry) string { return e.GetHandler() }},
	{"목적/사유", 24, func(e *ledgerv1.Entry) string { return e.GetPurpose() }},
	{"이용·제공받는 제3자/열람등 요구자", 28, func(e *ledgerv1.Entry) string {
		return join(" ", e.GetCounterparty(), e.GetCounterpartyOfficer(), e.GetRequesterName())
	}},
	{"이용·제공 근거", 28, func(e *ledgerv1.Entry) string { return e.GetLegalBasis() }},
	{"이용·제공 형태", 16, func(e *ledgerv1.Entry) string { return e.GetForm() }},
	// Seed 001 별표3 row 1 writes an auto-delete cycle ("00일 주기") under 기간.
	{"기간", 24, func(e *ledgerv1.Entry) string { return join(" / ", e.GetPeriod(), e.GetAutoDeleteCycle()) }},
	{"연락처", 16, func(e *ledgerv1.Entry) string { return e.GetRequesterContact() }},
	{"파기 예정일", 12, func(e *ledgerv1.Entry) string { return e.GetDestructionDueDate() }},
	{"항목", 20, func(e *ledgerv1.Entry) string { return strings.Join(e.GetItems(), ", ") }},
	{"안전조치 요청", 24, func(e *ledgerv1.Entry) string { return e.GetSafetyRequests() }},
	{"거부 사유", 24, func(e *ledgerv1.Entry) string { return e.GetRefusalReason() }},
	{"사본 교부", 20, func(e *ledgerv1.Entry) string { return e.GetCopyGiven() }},
	{"파기 방법", 18, func(e *ledgerv1.Entry) string { return e.GetDestructionMethod() }},
	{"자동 삭제 확인 일시", 17, func(e *ledgerv1.Entry) string { return seoulMinute(e.GetAutoDeleteCheckedTime()) }},
	{"접속 계정", 16, func(e *ledgerv1.Entry) string { return e.GetActor() }},
	{"접속지", 16, func(e *ledgerv1.Entry) string { return e.GetRemoteAddr() }},
	{"처리한 정보주체", 20, func(e *ledgerv1.Entry) string { return e.GetSubject() }},
	{"수행 업무", 16, func(e *ledgerv1.Entry) string { return e.GetAction() }},
	{"연결 번호", 10, func(e *ledgerv1.Entry) string {
		if e.Follows == nil {
			return ""
		}
		return strconv.FormatInt(e.GetFollows(), 10)
	}},
	{"관련 문서", 28, func(e *ledgerv1.Entry) string { return join(", ", e.GetRequest(), e.GetPlan()) }},
	{"비고", 32, func(e *ledgerv1.Entry) string {
		s := join(": ", amendmentLabel(e.GetAmendmentKind()), e.GetNote())
		switch {
		case e.GetRedacted() && e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ACCESS:
			// S-8-1: nothing of the record is left but when and in which system it was made.
			s = join(" ", s, "(보유기간 경과로 파기됨)")
		case e.GetRedacted():
			s = join(" ", s, "(개인정보 삭제됨)")
		}
		return s
	}},
}

// Columns returns the export's Korean headers, in order.
func Columns() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.header
	}
	return out
}

// Row returns an entry's cells under Columns. Times are Asia/Seoul to the minute, as a person
// writes them on the form; 번호 is the entry index, so that 연결 번호 points at a row.
func Row(e *ledgerv1.Entry) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.value(e)
	}
	return out
}

func kindLabel(k ledgerv1.EntryKind) string {
	switch k {
	case ledgerv1.EntryKind_ENTRY_KIND_USE:
		return "이용"
	case ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		return "제공"
	case ledgerv1.EntryKind_ENTRY_KIND_VIEWING:
		return "열람"
	case ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION:
		return "파기"
	case ledgerv1.EntryKind_ENTRY_KIND_ACCESS:
		return "접속기록"
	case ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT:
		return "변경"
	case ledgerv1.EntryKind_ENTRY_KIND_REDACTION:
		return "개인정보 삭제"
	case ledgerv1.EntryKind_ENTRY_KIND_LEDGER_KEY:
		return "서명키 교체"
	case ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION:
		return "방침 공표"
	case ledgerv1.EntryKind_ENTRY_KIND_REGISTER:
		return "대장 기록"
	case ledgerv1.EntryKind_ENTRY_KIND_BREACH:
		return "유출등"
	case ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW:
		return "접속기록 점검"
	case ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE:
		return "접근권한 부여·변경·말소"
	}
	return ""
}

func amendmentLabel(k ledgerv1.AmendmentKind) string {
	switch k {
	case ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY:
		return "파기 결과 회신"
	case ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN:
		return "자료 반환"
	case ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION:
		return "기간 연장"
	case ledgerv1.AmendmentKind_AMENDMENT_KIND_CORRECTION:
		return "정정"
	case ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS:
		return "처리 경과"
	}
	return ""
}

func seoulMinute(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() {
		return ""
	}
	return ts.AsTime().In(seoul.Location).Format("2006-01-02 15:04")
}

func join(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// Unreadable names the entries whose stored personal values did not open
// (ListEntriesResponse.unreadable): their rows say so in 비고 (UnreadableNote), so that an empty
// personal column is not taken for one never filled. It is read as each row is written, so it
// may grow while entries are listed.
type Unreadable map[string]bool

// UnreadableNote is what 비고 says of an entry of Unreadable.
const UnreadableNote = "(개인정보를 열 수 없음)"

// WriteCSV writes the entries as RFC 4180 CSV with the Korean headers (pkg/sheet: UTF-8 with a
// byte-order mark, formulas defused — names come from the public), each row as it comes; those
// of unreadable are marked. It stops at the first error of entries and returns it.
func WriteCSV(w io.Writer, entries iter.Seq2[*ledgerv1.Entry, error], unreadable Unreadable) error {
	return sheet.WriteCSV(w, sheetColumns(), rows(entries, unreadable))
}

// WriteXLSX writes the entries as one XLSX sheet named SheetName (pkg/sheet): bold, frozen header
// row, set column widths, text cells; 번호 is a number so that the sheet sorts by it. Those of
// unreadable are marked. An error of entries returns before anything is written.
func WriteXLSX(w io.Writer, entries iter.Seq2[*ledgerv1.Entry, error], unreadable Unreadable) error {
	return sheet.WriteXLSX(w, SheetName, sheetColumns(), rows(entries, unreadable))
}

func sheetColumns() []sheet.Column {
	out := make([]sheet.Column, len(columns))
	for i, c := range columns {
		out[i] = sheet.Column{Header: c.header, Width: c.width, Number: i == 0}
	}
	return out
}

func rows(entries iter.Seq2[*ledgerv1.Entry, error], unreadable Unreadable) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		for e, err := range entries {
			if err != nil {
				yield(nil, err)
				return
			}
			r := Row(e)
			if unreadable[e.GetName()] {
				r[len(r)-1] = join(" ", r[len(r)-1], UnreadableNote) // 비고, the last column
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}
