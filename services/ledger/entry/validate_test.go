package entry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// now is the server clock of these tests: an hour after the entries happened.
var now = kst("2026-05-03 15:00").AsTime()

func validUse() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:         ledgerv1.EntryKind_ENTRY_KIND_USE,
		OccurTime:    kst("2026-05-03 10:00"),
		FileName:     "시청 주차장 CH01 2026-05-02",
		Handler:      "안전총괄과 주무관 김민수",
		Purpose:      "시설물 파손 경위 확인",
		Counterparty: "안전총괄과",
		LegalBasis:   "개인정보 보호법 제18조 제2항 제2호 (공유재산법 제97조)",
		Form:         "내부 열람",
		Items:        []string{"영상(차량번호)"},
	}
}

func validViewing() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:             ledgerv1.EntryKind_ENTRY_KIND_VIEWING,
		OccurTime:        kst("2026-05-03 11:00"),
		FileName:         "중앙도서관 열람실 CH05 2026-04-30 16:00-16:30",
		Handler:          "시설관리과 주무관 송승학",
		Purpose:          "분실 가방 확인",
		RequesterName:    "홍길동",
		RequesterContact: "010-1234-5678",
		CopyGiven:        "타인영상 제거 후 사본 교부 (본인 확인 목적)",
		Request:          "tenants/jeongeup/units/library/requests/R-2026-000124",
	}
}

func validAutoDestruction() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:                  ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION,
		OccurTime:             kst("2026-05-01 09:00"),
		FileName:              "전체파일",
		Handler:               "시설관리과 주무관 송승학",
		Purpose:               "보유기간 경과 (자동 삭제)",
		DestructionMethod:     "자동 덮어쓰기",
		AutoDeleteCycle:       "30일 주기",
		AutoDeleteCheckedTime: kst("2026-05-01 09:00"),
	}
}

func validAccess() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:       ledgerv1.EntryKind_ENTRY_KIND_ACCESS,
		OccurTime:  kst("2026-05-03 14:59"),
		Actor:      "song.sh",
		RemoteAddr: "10.20.30.40",
		Subject:    "tenants/jeongeup/units/library/requests/R-2026-000124",
		Action:     "GetRequest",
	}
}

func validAmendment() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:          ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT,
		OccurTime:     kst("2026-05-03 14:30"),
		Follows:       proto.Int64(1),
		AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY,
		Note:          "통보받음(수사종결 파기, 2026.5.3, 파기자 김길동)",
		Handler:       "시설관리과 주무관 송승학",
	}
}

func validPublication() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:           ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION,
		OccurTime:      kst("2026-05-03 09:00"),
		FileName:       "tenants/jeongeup/units/library/policies/cctv/versions/3",
		Purpose:        "영상정보처리기기 운영·관리방침 공고 (시행 2026. 05. 10.)",
		DocumentSha256: strings.Repeat("ab", 32),
	}
}

// STD-21: a publication names the document and its hash; no other kind carries a hash.
func TestValidate_STD_21_Publication(t *testing.T) {
	e := validPublication()
	e.DocumentSha256 = strings.Repeat("AB", 32)
	requireViolation(t, Validate(e, now), "entry.document_sha256", "STD-21")
	e = validPublication()
	e.FileName = ""
	requireViolation(t, Validate(e, now), "entry.file_name", "STD-21")
	u := validUse()
	u.DocumentSha256 = strings.Repeat("ab", 32)
	requireViolation(t, Validate(u, now), "entry.document_sha256", "STD-21")
}

// requireViolation asserts that vs holds exactly one violation of rule on field.
func requireViolation(t *testing.T, vs []apierr.Violation, field, rule string) {
	t.Helper()
	var got []string
	n := 0
	for _, v := range vs {
		got = append(got, v.Field+" "+v.Rule)
		if v.Field == field && v.Rule == rule {
			require.NotEmpty(t, v.Description)
			n++
		}
	}
	require.Equal(t, 1, n, "want %s %s among %v", field, rule, got)
}

func TestValidate_ValidEntriesPass(t *testing.T) {
	for name, e := range map[string]*ledgerv1.Entry{
		"use":              validUse(),
		"provision":        policeProvision(),
		"viewing":          validViewing(),
		"auto destruction": validAutoDestruction(),
		"destruction": {Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: kst("2026-05-02 18:00"),
			FileName: "CH03 사본", Handler: "주무관 송승학", DestructionMethod: "영구삭제(덮어쓰기)"},
		"access":      validAccess(),
		"amendment":   validAmendment(),
		"publication": validPublication(),
		"on-site provision": func() *ledgerv1.Entry {
			e := policeProvision()
			e.Form, e.DestructionDueDate = "현장 열람", ""
			return e
		}(),
		"free-text period": func() *ledgerv1.Entry { e := policeProvision(); e.Period = "수사 종결 시까지"; return e }(),
		"future within skew": func() *ledgerv1.Entry {
			e := validAccess()
			e.OccurTime = timestamppb.New(now.Add(MaxFutureSkew))
			return e
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			require.Empty(t, Validate(e, now))
		})
	}
}

func TestValidate_STD_42_1_ProvisionNeedsRecipient(t *testing.T) {
	e := policeProvision()
	e.Counterparty = "  "
	vs := Validate(e, now)
	require.Len(t, vs, 1)
	requireViolation(t, vs, "entry.counterparty", "STD-42-1")
}

func TestValidate_STD_42_1_UseAndProvisionRequiredFields(t *testing.T) {
	for _, kind := range []ledgerv1.EntryKind{ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION} {
		e := &ledgerv1.Entry{Kind: kind, OccurTime: kst("2026-05-03 10:00"), Form: "현장 열람"}
		vs := Validate(e, now)
		for _, f := range []string{"file_name", "counterparty", "purpose", "handler"} {
			requireViolation(t, vs, "entry."+f, "STD-42-1")
		}
		requireViolation(t, vs, "entry.legal_basis", "STD-40")
		e.Form = ""
		requireViolation(t, Validate(e, now), "entry.form", "STD-42-1")
	}
}

func TestValidate_DEC_15_ItemsAndSafetyRequests(t *testing.T) {
	e := validUse()
	e.Items = nil
	vs := Validate(e, now)
	require.Len(t, vs, 1)
	requireViolation(t, vs, "entry.items", "DEC-15")

	e = policeProvision()
	e.Items, e.SafetyRequests = nil, " "
	vs = Validate(e, now)
	require.Len(t, vs, 2)
	requireViolation(t, vs, "entry.items", "DEC-15")
	requireViolation(t, vs, "entry.safety_requests", "DEC-15")
}

func TestValidate_STD_40_UseNeedsLegalBasis(t *testing.T) {
	e := validUse()
	e.LegalBasis = ""
	vs := Validate(e, now)
	require.Len(t, vs, 1)
	requireViolation(t, vs, "entry.legal_basis", "STD-40")
}

func TestValidate_STD_42_1_Period(t *testing.T) {
	for _, bad := range []string{"2026-05-03", "2026-05-03~2026-06-02", "2026-05-03 ~ 2026-13-01", "2026-06-02 ~ 2026-05-03", "2026-05-03 ~ 6/2"} {
		e := policeProvision()
		e.Period = bad
		requireViolation(t, Validate(e, now), "entry.period", "STD-42-1")
	}
}

func TestValidate_C_9_ProvisionNeedsDestructionDate(t *testing.T) {
	e := policeProvision()
	e.DestructionDueDate = ""
	requireViolation(t, Validate(e, now), "entry.destruction_due_date", "C-9")

	for _, bad := range []string{"2026.6.2", "2026-06-31", "26-06-02", "2026-05-02"} {
		e.DestructionDueDate = bad
		requireViolation(t, Validate(e, now), "entry.destruction_due_date", "C-9")
	}
	e.DestructionDueDate = "2026-05-03" // the same day is allowed
	require.Empty(t, Validate(e, now))
}

func TestOnSiteOnly(t *testing.T) {
	for form, want := range map[string]bool{
		"현장 열람":          true,
		"자료열람":           true,
		"현장 확인":          true,
		"USB 사본 제공":      false,
		"자료복제(CD)":       false,
		"현장 열람 후 USB 복사": false,
		"열람 및 출력물 교부":    false,
		"":               false,
		"이메일 전송":         false,
	} {
		require.Equal(t, want, OnSiteOnly(form), form)
	}
}

func TestValidate_STD_44_5_ViewingNeedsRequester(t *testing.T) {
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING, OccurTime: kst("2026-05-03 10:00")}
	vs := Validate(e, now)
	require.Len(t, vs, 5)
	for _, f := range []string{"requester_name", "requester_contact", "file_name", "purpose", "handler"} {
		requireViolation(t, vs, "entry."+f, "STD-44-5")
	}
}

func TestValidate_STD_42_2_Destruction(t *testing.T) {
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION}
	vs := Validate(e, now)
	requireViolation(t, vs, "entry.occur_time", "STD-42-2")
	requireViolation(t, vs, "entry.file_name", "STD-42-2")
	requireViolation(t, vs, "entry.handler", "STD-42-2")
	requireViolation(t, vs, "entry.destruction_method", "DEC-16")

	e = validAutoDestruction()
	e.AutoDeleteCheckedTime = nil
	requireViolation(t, Validate(e, now), "entry.auto_delete_checked_time", "STD-42-2")
	e = validAutoDestruction()
	e.AutoDeleteCycle = ""
	requireViolation(t, Validate(e, now), "entry.auto_delete_cycle", "STD-42-2")
	e = validAutoDestruction()
	e.AutoDeleteCheckedTime = timestamppb.New(now.Add(time.Hour))
	requireViolation(t, Validate(e, now), "entry.auto_delete_checked_time", "range")
}

func TestValidate_S_2_3_AccessFields(t *testing.T) {
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS}
	vs := Validate(e, now)
	require.Len(t, vs, 5)
	for _, f := range []string{"occur_time", "actor", "remote_addr", "subject", "action"} {
		requireViolation(t, vs, "entry."+f, "S-2-3")
	}
}

func TestValidate_C_9_Amendment(t *testing.T) {
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: kst("2026-05-03 10:00")}
	vs := Validate(e, now)
	require.Len(t, vs, 3)
	requireViolation(t, vs, "entry.follows", "C-9")
	requireViolation(t, vs, "entry.amendment_kind", "C-9")
	requireViolation(t, vs, "entry.note", "C-9")

	e = validAmendment()
	e.Follows = proto.Int64(-1)
	requireViolation(t, Validate(e, now), "entry.follows", "range")

	e = validAmendment()
	e.AmendmentKind = ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION
	requireViolation(t, Validate(e, now), "entry.period", "STD-42-1")
	e.Period = "2026-06-02 ~ 2026-07-02"
	require.Empty(t, Validate(e, now))
}

func TestValidate_C_9_FollowsOnlyOnAmendment(t *testing.T) {
	e := policeProvision()
	e.Follows = proto.Int64(0)
	e.AmendmentKind = ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION
	vs := Validate(e, now)
	require.Len(t, vs, 2)
	requireViolation(t, vs, "entry.follows", "C-9")
	requireViolation(t, vs, "entry.amendment_kind", "C-9")
}

func TestValidateFollows_C_9(t *testing.T) {
	const (
		use       = ledgerv1.EntryKind_ENTRY_KIND_USE
		provision = ledgerv1.EntryKind_ENTRY_KIND_PROVISION
		viewing   = ledgerv1.EntryKind_ENTRY_KIND_VIEWING
		access    = ledgerv1.EntryKind_ENTRY_KIND_ACCESS
		amendment = ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT
		redaction = ledgerv1.EntryKind_ENTRY_KIND_REDACTION
	)
	for kind, fits := range map[ledgerv1.AmendmentKind]map[ledgerv1.EntryKind]bool{
		ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY: {provision: true, use: false, viewing: false},
		ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN:            {provision: true, use: false, amendment: false},
		ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION:         {provision: true, use: true, viewing: false},
		ledgerv1.AmendmentKind_AMENDMENT_KIND_CORRECTION:        {viewing: true, amendment: true, access: false, redaction: false},
		ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS:          {viewing: true, provision: true, use: false, amendment: false, access: false},
	} {
		for followed, ok := range fits {
			e := validAmendment()
			e.AmendmentKind = kind
			vs := ValidateFollows(e, followed)
			if ok {
				require.Empty(t, vs, "%v after %v", kind, followed)
			} else {
				requireViolation(t, vs, "entry.follows", "C-9")
			}
		}
	}
}

func TestValidate_RedactionIsServerOnly(t *testing.T) {
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_REDACTION, OccurTime: kst("2026-05-03 10:00"),
		Follows: proto.Int64(1), Note: "보유기간 경과"}
	requireViolation(t, Validate(e, now), "entry.kind", RuleServerOnly)
}

func TestValidate_STD_45_KindAndTime(t *testing.T) {
	requireViolation(t, Validate(&ledgerv1.Entry{OccurTime: kst("2026-05-03 10:00")}, now), "entry.kind", "STD-45")
	requireViolation(t, Validate(&ledgerv1.Entry{Kind: 42, OccurTime: kst("2026-05-03 10:00")}, now), "entry.kind", "STD-45")

	e := validViewing()
	e.OccurTime = nil
	requireViolation(t, Validate(e, now), "entry.occur_time", "STD-45")

	e.OccurTime = timestamppb.New(now.Add(MaxFutureSkew + time.Second))
	requireViolation(t, Validate(e, now), "entry.occur_time", "range")

	e.OccurTime = &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9}
	requireViolation(t, Validate(e, now), "entry.occur_time", "format")

	require.NotEmpty(t, Validate(nil, now))
}

func TestValidate_Strings(t *testing.T) {
	e := validViewing()
	e.Purpose = "a\x00b"
	requireViolation(t, Validate(e, now), "entry.purpose", "format")

	e = validViewing()
	e.RequesterName = strings.Repeat("가", MaxStringBytes/3+1) // 3 bytes a syllable
	requireViolation(t, Validate(e, now), "entry.requester_name", "range")

	e = validViewing()
	e.Note = "\xff"
	requireViolation(t, Validate(e, now), "entry.note", "format")

	e = policeProvision()
	e.Items = nil
	for i := range MaxItems + 1 {
		e.Items = append(e.Items, fmt.Sprint("항목", i))
	}
	requireViolation(t, Validate(e, now), "entry.items", "range")

	e.Items = []string{"영상", ""}
	requireViolation(t, Validate(e, now), "entry.items[1]", "format")
}

// A valid entry always encodes: Validate covers what EncodeLeaf needs.
func TestValidate_ValidEncodes(t *testing.T) {
	for _, e := range []*ledgerv1.Entry{validUse(), policeProvision(), validViewing(), validAutoDestruction(), validAccess(), validAmendment()} {
		require.Empty(t, Validate(e, now))
		_, _, err := EncodeLeaf(testLog, 0, e, nil)
		require.NoError(t, err)
	}
}

func TestValidate_DueDateFormatOnOtherKinds(t *testing.T) {
	e := validUse()
	e.DestructionDueDate = "6월 2일"
	vs := Validate(e, now)
	require.Len(t, vs, 1)
	requireViolation(t, vs, "entry.destruction_due_date", "C-9")
}
