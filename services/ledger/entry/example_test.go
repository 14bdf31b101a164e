package entry_test

import (
	"bytes"
	"fmt"
	"time"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func ExampleEncodeLeaf() {
	e := &ledgerv1.Entry{
		Kind:             ledgerv1.EntryKind_ENTRY_KIND_VIEWING,
		OccurTime:        timestamppb.New(time.Date(2026, 5, 3, 2, 0, 0, 0, time.UTC)),
		FileName:         "중앙도서관 열람실 CH05 2026-04-30 16:00-16:30",
		Handler:          "주무관 송승학",
		Purpose:          "분실 가방 확인",
		RequesterName:    "홍길동",
		RequesterContact: "010-1234-5678",
	}
	if vs := entry.Validate(e, time.Date(2026, 5, 3, 3, 0, 0, 0, time.UTC)); len(vs) > 0 {
		panic(vs)
	}
	var n byte
	// Fixed salts for a stable output only: pass nil to get fresh random salts.
	salt := func() []byte { n++; return bytes.Repeat([]byte{n}, entry.SaltSize) }
	leaf, sealed, err := entry.EncodeLeaf("tenants/jeongeup/units/library", 3, e, salt)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(leaf))
	name, s, _ := sealed.Get("requester_name")
	fmt.Println(entry.Verify(leaf, "requester_name", name, s), entry.Verify(leaf, "requester_name", "김철수", s))
	// Output:
	// pipa-ledger-entry/v1
	// log: tenants/jeongeup/units/library
	// index: 3
	// kind: VIEWING
	// occur-time: 2026-05-03T02:00:00Z
	// file-name: 중앙도서관 열람실 CH05 2026-04-30 16:00-16:30
	// handler: 주무관 송승학
	// purpose: 분실 가방 확인
	// requester-name-commitment: erzBlegD8l9dCJnJNC2wYLM5U435uvcqW3FP5ODSFK8=
	// requester-contact-commitment: PTDfaHyRe0qKPRgQHcr8EmUJfPHHbR//WfoalUHVQ3g=
	// true false
}
