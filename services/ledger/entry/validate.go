package entry

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	// MaxStringBytes bounds every string field: a ledger line, not a document.
	MaxStringBytes = 4000
	// MaxItems bounds items (항목, DEC-15 5).
	MaxItems = 100
	// MaxFutureSkew is how far occur_time may lie ahead of the server's clock (clock skew between
	// a client and the server), since the ledger records what has happened.
	MaxFutureSkew = 5 * time.Minute
)

// RuleServerOnly is the violation rule for a field value only the server may write (a REDACTION
// entry is made by RedactEntry, never sent by a client).
const RuleServerOnly = "server-only"

var (
	isoDate     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	periodRange = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}) ~ (\d{4}-\d{2}-\d{2})$`)
	startsDate  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks an entry sent by a client against the fields LAW.md requires for its kind
// (STD-42-1, DEC-15, STD-44-5, STD-42-2, S-2-3 and the 작성요령 of seed 001 별표3), with now
// as the server's clock. Field paths are those of AppendEntryRequest ("entry.file_name"); each
// violation names the rule. Output-only fields are ignored, as AIP-203 says. That the entry an
// AMENDMENT follows exists is the store's check, not this one's.
func Validate(e *ledgerv1.Entry, now time.Time) []apierr.Violation {
	var vs apierr.Violations
	if e == nil {
		vs.Add("entry", "required", "the entry is required")
		return vs
	}
	v := validator{e: e, vs: &vs}

	// Generic shape: every string is bounded, UTF-8, without NUL (the leaf is text).
	for _, f := range fields {
		if f.num == 3 || f.num == 4 || f.num == 17 || f.num == 23 || f.num == 30 || f.num == 31 || f.num == 33 || f.num == 34 {
			continue // not free strings, or (recorded_by, verifier_key) the server's
		}
		if s, ok := f.value(e); ok {
			v.text(f.name, s)
		}
	}
	if n := len(e.GetItems()); n > MaxItems {
		vs.Add("entry.items", "range", "at most %d items, got %d", MaxItems, n)
	}
	for i, it := range e.GetItems() {
		if it == "" {
			vs.Add(fmt.Sprintf("entry.items[%d]", i), "format", "an item must not be empty")
		}
		v.text(fmt.Sprintf("items[%d]", i), it)
	}

	// STD-45: 구분 is one of the form's kinds.
	switch k := e.GetKind(); {
	case k == ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED:
		vs.Add("entry.kind", "STD-45", "kind (구분) is required: USE, PROVISION, VIEWING, DESTRUCTION, ACCESS, AMENDMENT, PUBLICATION, REGISTER, BREACH or ACCESS_REVIEW")
	case k == ledgerv1.EntryKind_ENTRY_KIND_REDACTION:
		vs.Add("entry.kind", RuleServerOnly, "REDACTION entries are written by RedactEntry, not appended")
	case k == ledgerv1.EntryKind_ENTRY_KIND_LEDGER_KEY:
		vs.Add("entry.kind", RuleServerOnly, "LEDGER_KEY entries are written by RotateKey, not appended")
	case ledgerv1.EntryKind_name[int32(k)] == "":
		vs.Add("entry.kind", "STD-45", "unknown kind %d", k)
	}

	// C-9: only an amendment is about an earlier entry (a REDACTION is the server's, refused above).
	if k := e.GetKind(); k != ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT && k != ledgerv1.EntryKind_ENTRY_KIND_REDACTION {
		if e.Follows != nil {
			vs.Add("entry.follows", "C-9", "only an AMENDMENT follows an earlier entry; leave follows unset on a %s", KindName(k))
		}
		if e.GetAmendmentKind() != ledgerv1.AmendmentKind_AMENDMENT_KIND_UNSPECIFIED {
			vs.Add("entry.amendment_kind", "C-9", "only an AMENDMENT has an amendment_kind; leave it unset on a %s", KindName(k))
		}
	}

	// STD-45 일시 (and S-2-3 date and time, STD-42-2 2 for a destruction).
	v.time("occur_time", e.GetOccurTime(), occurRule(e.GetKind()), now, true)

	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		v.useOrProvision()
	case ledgerv1.EntryKind_ENTRY_KIND_VIEWING:
		// STD-44-5: the request log. refusal_reason (4) and copy_given (5) are recorded when
		// they apply; nothing in the entry says reliably that they do, so they stay optional.
		v.required("requester_name", "STD-44-5", "the requester's name (STD-44-5 1)")
		v.required("requester_contact", "STD-44-5", "the requester's contact (STD-44-5 1)")
		v.required("file_name", "STD-44-5", "the file name and content requested (STD-44-5 2)")
		v.required("purpose", "STD-44-5", "the purpose (STD-44-5 3)")
		v.required("handler", "STD-44-5", "the official handling the request (STD-44-5 6)")
	case ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION:
		v.destruction(now)
	case ledgerv1.EntryKind_ENTRY_KIND_ACCESS:
		v.required("actor", "S-2-3", "the account that accessed the data (S-2-3 identifier)")
		v.required("remote_addr", "S-2-3", "where the access came from, e.g. an IP address (S-2-3 access location)")
		v.required("subject", "S-2-3", "whose data was processed (S-2-3 data subject)")
		v.required("action", "S-2-3", "the task performed (S-2-3)")
	case ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT:
		v.amendment()
	case ledgerv1.EntryKind_ENTRY_KIND_BREACH:
		// PIPA 34: each step of a breach (registration, notice, report, exemption, posting,
		// closure), by whom and under which rule, so that its clocks are provable later.
		v.required("file_name", "PIPA-34", "the breach's resource name")
		v.required("purpose", "PIPA-34", "the step taken, e.g. \"유출등 통지\"")
		v.required("handler", "PIPA-34", "the official who took the step")
		v.required("legal_basis", "PIPA-34", "the rule the step fulfils, e.g. \"PIPA-34-1\"")
	case ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW:
		// S-8-2: which month was reviewed, by whom, and what was checked, found and done.
		v.required("period", "S-8-2", "the month reviewed, \"YYYY-MM-DD ~ YYYY-MM-DD\"")
		v.required("handler", "S-8-2", "who reviewed it")
		v.required("note", "S-8-2", "what was checked, what was found, the follow-up")
		v.period("S-8-2")
	case ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE:
		v.roleChange()
	case ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION:
		// STD-21, WG26-24: which text was published when, provably.
		v.required("file_name", "STD-21", "the published document's resource name")
		if h := v.e.GetDocumentSha256(); !sha256Hex.MatchString(h) {
			vs.Add("entry.document_sha256", "STD-21", "the document's SHA-256 as 64 lowercase hex digits is required (got %q)", h)
		}
	case ledgerv1.EntryKind_ENTRY_KIND_REGISTER:
		// STD-58: the register record changed, and how.
		v.required("file_name", "STD-58", "the register record's resource name")
		v.required("purpose", "STD-58", "what changed in the register")
	}
	if h := e.GetDocumentSha256(); h != "" && e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION {
		vs.Add("entry.document_sha256", "STD-21", "only a PUBLICATION records a document's hash; leave it unset on a %s", KindName(e.GetKind()))
	}
	if d := e.GetDestructionDueDate(); d != "" && e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_PROVISION {
		v.date("destruction_due_date", d, "C-9")
	}
	return vs
}

func occurRule(k ledgerv1.EntryKind) string {
	switch k {
	case ledgerv1.EntryKind_ENTRY_KIND_ACCESS:
		return "S-2-3"
	case ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION:
		return "STD-42-2"
	}
	return "STD-45"
}

type validator struct {
	e  *ledgerv1.Entry
	vs *apierr.Violations
}

func (v validator) get(name string) string {
	for _, f := range fields {
		if f.name == name {
			s, _ := f.value(v.e)
			return s
		}
	}
	panic("entry: no field " + name)
}

func (v validator) required(name, rule, what string) bool {
	if strings.TrimSpace(v.get(name)) == "" {
		v.vs.Add("entry."+name, rule, "%s is required", what)
		return false
	}
	return true
}

func (v validator) text(name, s string) {
	switch {
	case len(s) > MaxStringBytes:
		v.vs.Add("entry."+name, "range", "at most %d bytes, got %d", MaxStringBytes, len(s))
	case !utf8.ValidString(s):
		v.vs.Add("entry."+name, "format", "not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		v.vs.Add("entry."+name, "format", "must not contain a NUL character")
	}
}

func (v validator) time(name string, ts *timestamppb.Timestamp, rule string, now time.Time, required bool) {
	if ts == nil {
		if required {
			v.vs.Add("entry."+name, rule, "the date and time (일시) is required")
		}
		return
	}
	if err := ts.CheckValid(); err != nil {
		v.vs.Add("entry."+name, "format", "not a valid timestamp")
		return
	}
	if t := ts.AsTime(); t.After(now.Add(MaxFutureSkew)) {
		v.vs.Add("entry."+name, "range", "%s is in the future; the ledger records what has happened",
			t.In(seoul.Location).Format("2006-01-02 15:04"))
	}
}

// date checks a YYYY-MM-DD calendar day.
func (v validator) date(name, s, rule string) (time.Time, bool) {
	d, err := time.ParseInLocation(time.DateOnly, s, seoul.Location)
	if !isoDate.MatchString(s) || err != nil {
		v.vs.Add("entry."+name, rule, "%q is not a date as YYYY-MM-DD", s)
		return time.Time{}, false
	}
	return d, true
}

// period checks 기간 (STD-42-1 5, DEC-15 6). It is optional and may be free text ("수사 종결
// 시까지", "30일"); but a value that starts with a date must be a whole range
// "YYYY-MM-DD ~ YYYY-MM-DD" with the start not after the end, so that dates stay machine-readable.
func (v validator) period(rule string) {
	p := v.e.GetPeriod()
	if !startsDate.MatchString(p) {
		return
	}
	m := periodRange.FindStringSubmatch(p)
	if m == nil {
		v.vs.Add("entry.period", rule, "%q: a dated period reads \"YYYY-MM-DD ~ YYYY-MM-DD\"", p)
		return
	}
	from, ok1 := v.date("period", m[1], rule)
	to, ok2 := v.date("period", m[2], rule)
	if ok1 && ok2 && to.Before(from) {
		v.vs.Add("entry.period", rule, "the period ends (%s) before it starts (%s)", m[2], m[1])
	}
}

func (v validator) useOrProvision() {
	// STD-42-1 / DEC-15: the 목적 외 이용·제공 record.
	v.required("file_name", "STD-42-1", "the video file name (STD-42-1 1)")
	who := "the user (STD-42-1 2)"
	if v.e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_PROVISION {
		who = "the recipient (STD-42-1 2), e.g. \"정읍경찰서 형사과\""
	}
	v.required("counterparty", "STD-42-1", who)
	v.required("purpose", "STD-42-1", "the purpose (STD-42-1 3)")
	v.required("form", "STD-42-1", "the form of use or provision, e.g. \"USB 사본 제공\" or \"현장 열람\" (STD-42-1 6)")
	v.required("handler", "STD-42-1", "the official handling it (STD-42-1 7)")
	// STD-40 / PIPA-18-2: use or provision outside the purpose needs one of the listed grounds,
	// so the ground is required even though STD-42-1 4 says "if any". Seed 001 작성요령: with no
	// statute, name the request document's title and number instead.
	v.required("legal_basis", "STD-40", "the legal basis (e.g. \"개인정보 보호법 제18조 제2항 제7호\", or the request document's title and number)")
	v.period("STD-42-1")
	// DEC-15 (목적 외 이용·제3자 제공 대장) 5: the data items used or provided.
	if len(v.e.GetItems()) == 0 {
		v.vs.Add("entry.items", "DEC-15", "the data items used or provided (항목, DEC-15 5) are required, e.g. [\"영상(얼굴, 차량번호)\"]")
	}

	if v.e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_PROVISION {
		return // a due date on other kinds is only checked for its format, in Validate
	}
	// DEC-15 8 and PIPA 18(5): what the recipient was asked to restrict or safeguard.
	v.required("safety_requests", "DEC-15", "the restrictions or safety measures requested of the recipient (DEC-15 8, PIPA 18(5)), e.g. \"수사 목적 외 이용 금지, 종결 시 파기 후 회신\"")
	// C-9 and seed 001 작성요령 ("제공의 경우에는 파기예정일자를 반드시 기재"): the recipient destroys
	// its copy and reports back, so a provision names the day by which. A third party viewing on
	// site takes no copy (it is still 제공), so there is nothing to destroy: see OnSiteOnly.
	due := v.e.GetDestructionDueDate()
	if due == "" {
		if !OnSiteOnly(v.e.GetForm()) {
			v.vs.Add("entry.destruction_due_date", "C-9",
				"a provision of a copy needs the date by which the recipient destroys it (파기 예정일, YYYY-MM-DD); only on-site viewing (현장 열람) needs none")
		}
		return
	}
	d, ok := v.date("destruction_due_date", due, "C-9")
	if ok && v.e.GetOccurTime().IsValid() {
		occur := v.e.GetOccurTime().AsTime().In(seoul.Location)
		if d.Before(time.Date(occur.Year(), occur.Month(), occur.Day(), 0, 0, 0, 0, seoul.Location)) {
			v.vs.Add("entry.destruction_due_date", "C-9", "the destruction date %s is before the provision (%s)",
				due, occur.Format(time.DateOnly))
		}
	}
}

// copyMarkers name a copy leaving the premises (seed 001 작성요령: 자료복제 — 프린트, F/D, CD,
// USB — or sending it).
var copyMarkers = []string{"사본", "복제", "복사", "출력", "프린트", "전송", "메일", "교부", "usb", "cd", "dvd", "f/d"}

// OnSiteOnly reports whether a form (이용·제공 형태) is viewing on site only — "현장 열람",
// "자료열람", "현장 확인" — with no copy handed over, in which case a provision needs no
// destruction date. Any mention of a copy (사본, 복제, USB, CD, 출력, 전송, ...) makes it a copy,
// so the safe reading wins when a form says both.
func OnSiteOnly(form string) bool {
	f := strings.ToLower(strings.Join(strings.Fields(form), ""))
	if !strings.Contains(f, "열람") && !strings.Contains(f, "현장") {
		return false
	}
	for _, m := range copyMarkers {
		if strings.Contains(f, m) {
			return false
		}
	}
	return true
}

func (v validator) destruction(now time.Time) {
	// STD-42-2: file name, date and time (occur_time, checked for every kind), the official.
	v.required("file_name", "STD-42-2", "the file name (STD-42-2 1), e.g. \"전체파일\"")
	v.required("handler", "STD-42-2", "the official who destroyed it (STD-42-2 3)")
	// DEC-16: the method shows the destruction was irrecoverable.
	v.required("destruction_method", "DEC-16", "the destruction method, e.g. \"영구삭제(덮어쓰기)\" or \"자동 삭제\" (DEC-16)")
	// STD-42-2 2: a scheduled auto-delete is recorded by its cycle and when it was checked; one
	// without the other says nothing checkable.
	cycle, checked := v.e.GetAutoDeleteCycle() != "", v.e.GetAutoDeleteCheckedTime() != nil
	switch {
	case cycle && !checked:
		v.vs.Add("entry.auto_delete_checked_time", "STD-42-2", "an auto-delete cycle needs the time the auto-delete was checked (STD-42-2 2)")
	case checked && !cycle:
		v.vs.Add("entry.auto_delete_cycle", "STD-42-2", "an auto-delete check needs the cycle, e.g. \"30일 주기\" (STD-42-2 2)")
	}
	v.time("auto_delete_checked_time", v.e.GetAutoDeleteCheckedTime(), "STD-42-2", now, false)
}

// roleChange checks a ROLE_CHANGE entry (S-5): whose roles, which change, from where, by whom;
// the roles held after a grant or change, and those held before a change or revocation.
func (v validator) roleChange() {
	v.required("actor", "S-5", "whose roles changed (the account)")
	v.required("form", "S-5", "where the roles come from, e.g. \"등록부 담당자\", \"pipa token\", \"OIDC 로그인\"")
	v.required("handler", "S-5", "who made the change")
	switch p := v.e.GetPurpose(); p {
	case rolechange.Granted, rolechange.Changed, rolechange.Revoked:
		if p != rolechange.Revoked && len(v.e.GetItems()) == 0 {
			v.vs.Add("entry.items", "S-5", "a %s names the roles held after it", p)
		}
		if p != rolechange.Granted {
			v.required("note", "S-5", "the roles held before the change")
		}
		if p == rolechange.Revoked && len(v.e.GetItems()) > 0 {
			v.vs.Add("entry.items", "S-5", "a %s leaves no roles; items must be empty", p)
		}
	default:
		v.vs.Add("entry.purpose", "S-5", "the change is one of %s (got %q)", strings.Join(rolechange.Purposes, ", "), p)
	}
}

func (v validator) amendment() {
	// C-9 and seed 001 작성요령 (파기 등 결과 및 처리일자): a later fact — a destruction reply, a
	// return, an extension — is its own entry naming the entry it completes.
	if v.e.Follows == nil {
		v.vs.Add("entry.follows", "C-9", "an amendment names the index of the entry it follows")
	} else if v.e.GetFollows() < 0 {
		v.vs.Add("entry.follows", "range", "follows is an entry index, 0 or more")
	}
	switch k := v.e.GetAmendmentKind(); {
	case k == ledgerv1.AmendmentKind_AMENDMENT_KIND_UNSPECIFIED:
		v.vs.Add("entry.amendment_kind", "C-9", "amendment_kind is required: DESTRUCTION_REPLY, RETURN, EXTENSION, CORRECTION or PROGRESS")
	case ledgerv1.AmendmentKind_name[int32(k)] == "":
		v.vs.Add("entry.amendment_kind", "C-9", "unknown amendment_kind %d", k)
	}
	v.required("note", "C-9", "the note stating what happened, e.g. \"통보받음(수사종결 파기, 파기자 김길동)\"")
	if v.e.GetAmendmentKind() == ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION {
		// 작성요령 파기기간 연장: the new period is written first.
		v.required("period", "STD-42-1", "an extension states the new period (STD-42-1 5)")
	}
	v.period("STD-42-1")
}

// followable lists, per amendment kind, the kinds of entry it may follow (C-9 and seed 001 별표3
// 작성요령): the recipient of a provided copy replies that it destroyed it (파기 결과 회신) or
// gives it back (자료 반환); the period of a use or provision is extended (기간 연장); a correction
// of fact follows any entry staff write, but not an ACCESS entry, which only the server writes
// (S-8-3), nor a REDACTION.
var followable = map[ledgerv1.AmendmentKind][]ledgerv1.EntryKind{
	ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY: {ledgerv1.EntryKind_ENTRY_KIND_PROVISION},
	ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN:            {ledgerv1.EntryKind_ENTRY_KIND_PROVISION},
	ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION:         {ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION},
	// A request's later steps follow the entry that records the request (STD-44-5) or provision.
	ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS: {ledgerv1.EntryKind_ENTRY_KIND_VIEWING, ledgerv1.EntryKind_ENTRY_KIND_PROVISION},
	ledgerv1.AmendmentKind_AMENDMENT_KIND_CORRECTION: {ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION,
		ledgerv1.EntryKind_ENTRY_KIND_VIEWING, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT},
}

// ValidateFollows checks that amendment e, valid by Validate, fits the kind of the entry it
// follows (C-9).
func ValidateFollows(e *ledgerv1.Entry, followed ledgerv1.EntryKind) []apierr.Violation {
	a := e.GetAmendmentKind()
	if slices.Contains(followable[a], followed) {
		return nil
	}
	var names []string
	for _, k := range followable[a] {
		names = append(names, KindName(k))
	}
	return []apierr.Violation{{Field: "entry.follows", Rule: "C-9", Description: fmt.Sprintf(
		"a %s amendment follows a %s entry; entry %d is a %s",
		strings.TrimPrefix(a.String(), "AMENDMENT_KIND_"), strings.Join(names, " or "), e.GetFollows(), KindName(followed))}}
}

// KindName is k as the leaf and the store name it, without ENTRY_KIND_ (e.g. "PROVISION").
func KindName(k ledgerv1.EntryKind) string { return strings.TrimPrefix(k.String(), "ENTRY_KIND_") }

// ParseKind reads a KindName back, in any case; UNSPECIFIED when name is no kind.
func ParseKind(name string) ledgerv1.EntryKind {
	return ledgerv1.EntryKind(ledgerv1.EntryKind_value["ENTRY_KIND_"+strings.ToUpper(name)])
}

// ValidateLinks checks the links of entry e appended to log (tenants/{t}/units/{u}): the request
// and the plan it belongs to are the unit's own, so that no entry names another tenant's or
// another unit's records (ARCHITECTURE.md "Identity and tenancy").
func ValidateLinks(e *ledgerv1.Entry, log string) []apierr.Violation {
	var vs apierr.Violations
	for _, l := range []struct{ field, value, collection string }{
		{"request", e.GetRequest(), "requests"},
		{"plan", e.GetPlan(), "plans"},
	} {
		if l.value == "" {
			continue
		}
		id, ok := strings.CutPrefix(l.value, log+"/"+l.collection+"/")
		if !ok || id == "" || strings.ContainsAny(id, "/ ") {
			vs.Add("entry."+l.field, "tenancy", "must name one of this unit's %s, %s/%s/{id} (got %q)", l.collection, log, l.collection, l.value)
		}
	}
	return vs
}

// CheckRedaction says why leaf is not the REDACTION entry of entry index of log (nil when it is):
// an entry's personal values are erased only by a REDACTION entry that follows it, and an
// erasure shows in the tamper-evident log.
func CheckRedaction(leaf []byte, log string, index int64) error {
	if leaf == nil {
		return fmt.Errorf("no REDACTION entry follows it")
	}
	d, err := DecodeLeaf(leaf)
	if err != nil {
		return fmt.Errorf("the entry named as its REDACTION: %w", err)
	}
	e := d.Entry
	if d.Log != log || e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_REDACTION || e.Follows == nil || e.GetFollows() != index || d.Index <= index {
		return fmt.Errorf("entry %d of %s is not a REDACTION following it", d.Index, d.Log)
	}
	return nil
}
