package lifecycle

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"

	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// A destruction certificate is a signed note (golang.org/x/mod/sumdb/note) whose text states the
// plan, the approval, the method, the official and the time, then each DESTRUCTION entry that
// records it with its index and leaf hash (base64), then every item with its entry's index, one
// a line:
//
//	pipa 개인정보 파기 확인서
//	plan tenants/jeongeup/units/library/plans/12
//	unit 정읍시립도서관 (tenants/jeongeup/units/library)
//	reason 보유기간 경과
//	approved 2026-11-30T10:00:00+09:00 by 김보호 (cpo-1)
//	destroyed 2026-11-30T11:00:00+09:00 by 주무관 송승학
//	method 영구삭제(복구 불가)
//	entries 1
//	entry 41 leaf-hash 3q2+7w0K…=
//	items 2
//	item tenants/jeongeup/units/library/items/7 entry 41 회원 관리 2024년 탈퇴 회원
//	item tenants/jeongeup/units/library/items/8 entry 41 회원 관리 2025년 탈퇴 회원
//
// The service checks none of it after signing. A verifier checks the signature with the tenant's
// key (GetCertificateKey, public) and each entry in the unit's ledger: that the leaf at the index
// has that hash, and that it is included in a checkpoint signed by the ledger's key. The leaf
// hash commits the certificate to the entry: a ledger rewritten under the same index would not
// match it.

const certificateTitle = "pipa 개인정보 파기 확인서"

// Certificate writes and signs the certificate of a completed plan.
// unitTitle names the unit as the certificate states it.
func Certificate(key *TenantKey, tenant, unit, unitTitle string, p *retentionv1.Plan, items []PlanItem) (*retentionv1.Certificate, error) {
	var b strings.Builder
	line := func(format string, args ...any) {
		b.WriteString(oneLine(fmt.Sprintf(format, args...)))
		b.WriteByte('\n')
	}
	at := func(t time.Time) string { return t.In(seoul.Location).Format(time.RFC3339) }
	line(certificateTitle)
	line("plan %s", p.GetName())
	line("unit %s", unitTitle)
	line("reason %s", p.GetReason())
	line("approved %s by %s", at(p.GetApproveTime().AsTime()), p.GetApprovedBy())
	line("destroyed %s by %s", at(p.GetDestructionTime().AsTime()), p.GetDestroyedBy())
	line("method %s", p.GetMethod())
	var entries []int64
	hashes := map[int64][]byte{}
	for _, it := range items {
		if _, ok := hashes[it.LedgerIndex]; !ok {
			entries, hashes[it.LedgerIndex] = append(entries, it.LedgerIndex), it.LeafHash
		}
	}
	slices.Sort(entries)
	line("entries %d", len(entries))
	for _, i := range entries {
		line("entry %d leaf-hash %s", i, base64.StdEncoding.EncodeToString(hashes[i]))
	}
	line("items %d", len(items))
	for _, it := range items {
		line("item %s entry %d %s", names.Items.NameN(tenant, unit, it.ID), it.LedgerIndex, it.Description)
	}
	text := b.String()
	signed, err := note.Sign(&note.Note{Text: text}, key.Signer)
	if err != nil {
		return nil, fmt.Errorf("retention: sign certificate: %w", err)
	}
	return &retentionv1.Certificate{Text: text, Note: string(signed), VerifierKey: key.Verifier}, nil
}

// oneLine keeps free text on its line: a note's text holds no control characters but newlines,
// and a newline would start a line the certificate does not mean.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// dataKinds are the 자료의 종류 of 별지5 per target.
var dataKinds = map[retentionv1.RuleTarget]string{
	retentionv1.RuleTarget_RULE_TARGET_SITE:            "개인영상정보(녹화영상)",
	retentionv1.RuleTarget_RULE_TARGET_FILE:            "개인정보파일",
	retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS: "열람등 요구 처리기록의 개인정보",
	retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES:  "관리대장 기재 개인정보",
}

// DestructionRecords are the plan's rows of the 개인정보파일 파기 관리대장 (STD-55, 별지5), one per rule:
// 번호, 파일명, 자료의 종류, 생성일 (the earliest start of a period), 폐기일, 폐기사유, 처리담당자,
// 처리부서장, and the DESTRUCTION entry's index.
func DestructionRecords(p *retentionv1.Plan, items []PlanItem, rules map[string]*Rule, head string) []*retentionv1.DestructionRecord {
	var out []*retentionv1.DestructionRecord
	byRule := map[string]*retentionv1.DestructionRecord{}
	for _, it := range items {
		r := byRule[it.RuleID]
		created := seoul.Date(it.ClockStart)
		if r == nil {
			rule := rules[it.RuleID].Doc
			r = &retentionv1.DestructionRecord{Number: int32(len(out) + 1), FileName: rule.GetDisplayName(),
				DataKind: dataKinds[rule.GetTarget()], Created: created, Destroyed: seoul.Date(p.GetDestructionTime().AsTime()),
				Reason: p.GetReason(), Handler: p.GetDestroyedBy(), DepartmentHead: head, LedgerIndex: it.LedgerIndex}
			byRule[it.RuleID] = r
			out = append(out, r)
		} else if created < r.Created {
			r.Created = created
		}
	}
	return out
}
