package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

func TestFindControl(t *testing.T) {
	ok := &registryv1.CreateSiteRequest{Parent: "tenants/a/units/b", Site: &registryv1.Site{DisplayName: "주차장 “정문”…",
		Coverage: "1층\t출입구\r\n2층 ※ 복도", Locations: []string{"출입구 ‐ 북측"}}}
	field, _ := findControl(ok.ProtoReflect())
	require.Empty(t, field)

	for want, c := range map[string]struct {
		m *registryv1.CreateSiteRequest
		r rune
	}{
		"request_id":                   {&registryv1.CreateSiteRequest{RequestId: "a\x00"}, 0},
		"site.display_name":            {&registryv1.CreateSiteRequest{Site: &registryv1.Site{DisplayName: "주\a차장"}}, '\a'},
		"site.locations[1]":            {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Locations: []string{"x", "\x1b[2J"}}}, 0x1b},
		"site.purposes[0].description": {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Purposes: []*registryv1.SitePurpose{{Description: "a\u0085"}}}}, 0x85},
		"site.coverage":                {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Coverage: "정문\u202e다니합"}}, 0x202e},
		"site.storage_place":           {&registryv1.CreateSiteRequest{Site: &registryv1.Site{StoragePlace: "\u2067x\u2069"}}, 0x2067},
		"site.manager":                 {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Manager: "x\x7f"}}, 0x7f},
	} {
		field, r := findControl(c.m.ProtoReflect())
		require.Equal(t, want, field)
		require.Equal(t, c.r, r, want)
	}
	// The metadata map of an error detail is walked too.
	field, _ = findControl((&errdetails.ErrorInfo{Metadata: map[string]string{"k": "\x00"}}).ProtoReflect())
	require.Equal(t, "metadata[k]", field)
}

// A 0xC2 byte not followed by a continuation byte (invalid UTF-8, which an in-process call can
// carry, since its messages are copied, not decoded) is not a C1 control, and the byte after it
// is not reported as one.
func TestForbiddenInvalidUTF8(t *testing.T) {
	require.Equal(t, rune(-1), forbidden("\xc2A"))
	require.Equal(t, rune(-1), forbidden("a\xc2"))
	require.Equal(t, rune(0x1b), forbidden("\xc2\x1b"), "the control after it is still found, as itself")
	require.Equal(t, rune(0x9f), forbidden("x\xc2\x9f"))
}

// The check every request passes: the entry of an append (README's provision), and a policy
// text of 140 kB as an import sends it.
func BenchmarkFindControl(b *testing.B) {
	req := &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/library", RequestId: "prov-2026-001", Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, FileName: "중앙도서관 주차장 CH03", Handler: "주무관 송승학", Purpose: "차량 파손 사건 수사",
		Counterparty: "정읍경찰서", CounterpartyOfficer: "경위 홍길동", LegalBasis: "개인정보 보호법 제18조 제2항 제7호", Form: "USB 사본 제공",
		Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지, 종결 시 파기 후 회신", DestructionDueDate: "2027-01-06"}}
	text := strings.Repeat("제1조(목적) 이 방침은 정읍시립도서관이 운영하는 영상정보처리기기의 운영·관리에 관한 사항을 정한다.\n", 1000)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if field, _ := findControl(req.ProtoReflect()); field != "" {
				b.Fatal(field)
			}
		}
	})
	b.Run("policy-text", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if forbidden(text) >= 0 {
				b.Fatal()
			}
		}
	})
}
