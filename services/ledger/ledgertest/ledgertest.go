// Package ledgertest holds ledger entries as the seeds' people write them, for the tests of the
// ledger and of the services that append to it.
package ledgertest

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	kst "github.com/pipa-kr/pipa/pkg/seoul"
)

// PoliceProvision is seed 001 별표3 row 2: footage handed to the police on a USB copy an hour ago
// (STD-42-1), to be destroyed in 30 days.
func PoliceProvision() *ledgerv1.Entry {
	now := time.Now()
	today, due := kst.Date(now), kst.Date(now.AddDate(0, 0, 30))
	return &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(now.Add(-time.Hour)),
		FileName: "중앙도서관 주차장 CH03 2026-11-20 14:00~15:00", FileFormat: "mp4",
		Handler: "주무관 송승학", Purpose: "차량 파손 사건 수사", Counterparty: "정읍경찰서",
		CounterpartyOfficer: "경위 홍길동", LegalBasis: "개인정보 보호법 제18조 제2항 제7호",
		Form: "USB 사본 제공", Period: today + " ~ " + due, DestructionDueDate: due,
		Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
	}
}
