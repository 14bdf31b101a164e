// Package policy holds the statutory shape of pipa's two published policies: the items each must
// state (WG26-ITEMS, STD-19 and PIPA-30-1 for privacy policies, DEC-25-1 for CCTV policies), where
// a body's own articles state them (:check), the writing guide's standard outline for a body that
// has no policy yet, and the date rules that decide which version is in force.
//
// Everything here is pure: no database, no clock. Check turns a version, its articles and its
// frozen snapshot into Findings and Coverage; ValidateAnnouncement and ValidateImport turn dates
// into apierr.Violations; Periods derives each version's end date and standing for a given day.
// Dates are Asia/Seoul calendar days (Date, Today), so the caller's clock decides what "today" is.
package policy

import (
	"regexp"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// Requirement says whether a policy must state an item.
type Requirement int

const (
	// Mandatory items must be stated (M in WG26-ITEMS, every DEC-25-1 item).
	Mandatory Requirement = iota + 1
	// Applicable items are stated when they apply, or declared "not processed" (A).
	Applicable
	// Recommended items only warn when missing (R).
	Recommended
)

// Item is one statutory item of a policy, in published order.
type Item struct {
	// Key names the item in Article.items and Attestation.item, e.g. "retention".
	Key string
	// Number is the item's number in its rule's table (WG26 1–24, DEC-25-1 1–8).
	Number string
	// Rule is the LAW.md id of the table.
	Rule string
	// Requirement is the item's M, A or R in its table.
	Requirement Requirement
	// Heading is the standard article heading, e.g. "개인정보의 처리 및 보유 기간".
	Heading string
	// Data names the registry data that shows the item applies ("sites", "processors",
	// "recipients"), or "history" for the change history pipa publishes itself.
	Data string
	// Titles matches the titles of the articles that state the item, spaces and middle dots
	// removed ("개인정보의처리및보유기간").
	Titles *regexp.Regexp
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// PrivacyItems is WG26-ITEMS: the 2026 writing guide's 24 items of a privacy policy.
var PrivacyItems = []Item{
	{Key: "preamble", Number: "1", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보 처리방침의 제목 및 전문"},
	{Key: "purpose", Number: "2", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보의 처리 목적", Titles: re(`처리목적|처리의목적|처리하는목적`)},
	{Key: "items", Number: "3", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "처리하는 개인정보의 항목", Titles: re(`항목`)},
	{Key: "children", Number: "4", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "14세 미만 아동의 개인정보 처리에 관한 사항", Titles: re(`14세|아동`)},
	{Key: "retention", Number: "5", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보의 처리 및 보유 기간", Titles: re(`보유기간|보유및이용기간|처리및보유`)},
	{Key: "destruction", Number: "6", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보의 파기 절차 및 방법", Titles: re(`파기`)},
	{Key: "third_party", Number: "7", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "개인정보의 제3자 제공에 관한 사항", Data: "recipients", Titles: re(`제3자제공|제3자에게제공`)},
	{Key: "additional_use", Number: "8", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "추가적인 이용·제공의 판단기준", Titles: re(`추가적인?이용`)},
	{Key: "outsourcing", Number: "9", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "개인정보 처리업무의 위탁에 관한 사항", Data: "processors", Titles: re(`위탁`)},
	{Key: "overseas", Number: "10", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "개인정보의 국외 수집 및 이전에 관한 사항", Titles: re(`국외`)},
	{Key: "safety", Number: "11", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보의 안전성 확보조치에 관한 사항", Titles: re(`안전성|안전조치|보호조치`)},
	{Key: "sensitive", Number: "12", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "민감정보의 공개 가능성 및 비공개를 선택하는 방법", Titles: re(`민감정보`)},
	{Key: "pseudonymized", Number: "13", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "가명정보 처리에 관한 사항", Titles: re(`가명정보`)},
	{Key: "auto_collection", Number: "14", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "개인정보 자동 수집 장치의 설치·운영 및 거부에 관한 사항", Titles: re(`자동수집|자동으로수집|쿠키`)},
	{Key: "behavioral", Number: "15", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "행태정보의 수집·이용·제공 및 거부 등에 관한 사항", Titles: re(`행태정보`)},
	{Key: "rights", Number: "16", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "정보주체와 법정대리인의 권리·의무 및 행사방법에 관한 사항", Titles: re(`권리`)},
	{Key: "automated_decisions", Number: "17", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "자동화된 결정에 관한 사항", Titles: re(`자동화된결정`)},
	{Key: "officers", Number: "18", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보 보호책임자 및 고충사항을 처리하는 부서에 관한 사항", Titles: re(`보호책임자|책임자|담당부서|고충`)},
	{Key: "domestic_agent", Number: "19", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "국내대리인의 지정", Titles: re(`국내대리인`)},
	{Key: "remedies", Number: "20", Rule: "WG26-ITEMS", Requirement: Recommended, Heading: "정보주체의 권익침해에 대한 구제방법", Titles: re(`구제|권익침해`)},
	{Key: "cctv", Number: "21", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "고정형 영상정보처리기기 운영·관리에 관한 사항", Data: "sites", Titles: re(`영상정보처리기기|CCTV`)},
	{Key: "mobile_cameras", Number: "22", Rule: "WG26-ITEMS", Requirement: Applicable, Heading: "이동형 영상정보처리기기 운영·관리에 관한 사항", Titles: re(`이동형`)},
	{Key: "voluntary_measures", Number: "23", Rule: "WG26-ITEMS", Requirement: Recommended, Heading: "개인정보 보호를 위한 자율적 조치", Titles: re(`자율적|영향평가|보호수준`)},
	{Key: "changes", Number: "24", Rule: "WG26-ITEMS", Requirement: Mandatory, Heading: "개인정보 처리방침의 변경에 관한 사항", Data: "history", Titles: re(`변경|개정`)},
}

// CCTVItems is DEC-25-1: the eight mandatory items of a CCTV operation and management policy, in
// the article order the seeds publish (seed 000, seed 002). "preamble" and "outsourcing" are not
// items of their own: the preamble is optional, and outsourcing belongs to item 8 where it applies
// (the W26 item-21 example; seed 002 item 5 "해당하는 경우만").
var CCTVItems = []Item{
	{Key: "preamble", Number: "", Rule: "DEC-25-1", Requirement: Recommended, Heading: "전문"},
	{Key: "purpose", Number: "1", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "영상정보처리기기의 설치근거 및 설치목적", Titles: re(`설치근거|설치목적|^목적$`)},
	{Key: "installation", Number: "2", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "설치대수, 설치위치 및 촬영범위", Titles: re(`설치대수|설치위치|촬영범위|^CCTV설치$|설치현황`)},
	{Key: "officers", Number: "3", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "관리책임자 및 접근권한자", Titles: re(`관리책임자|접근권한자|책임관|책임자`)},
	{Key: "operation", Number: "4", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법", Titles: re(`촬영시간|보관기간|보관장소|처리방법|보유및삭제`)},
	{Key: "outsourcing", Number: "8", Rule: "DEC-25-1", Requirement: Applicable, Heading: "영상정보처리기기 설치 및 관리 등의 위탁에 관한 사항", Data: "processors", Titles: re(`위탁`)},
	{Key: "review", Number: "5", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "개인영상정보의 확인 방법 및 장소에 관한 사항", Titles: re(`확인방법|확인장소|관리운영`)},
	{Key: "requests", Number: "6", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "정보주체의 영상정보 열람 등 요구에 대한 조치", Titles: re(`열람등|열람요구|열람요청|존재확인`)},
	{Key: "safety", Number: "7", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "개인영상정보의 안전성 확보조치", Titles: re(`안전성|안전조치|보호조치|비밀유지`)},
	{Key: "other", Number: "8", Rule: "DEC-25-1", Requirement: Recommended, Heading: "그 밖에 영상정보처리기기의 설치·운영 및 관리에 필요한 사항", Titles: re(`안내판|보호원칙|제한|정의|적용범위`)},
	{Key: "changes", Number: "8", Rule: "DEC-25-1", Requirement: Mandatory, Heading: "영상정보처리기기 운영·관리방침 변경에 관한 사항", Data: "history", Titles: re(`변경|개정|부칙`)},
}

// Items returns the catalogue of a policy kind, or nil for an unknown kind.
func Items(kind registryv1.PolicyKind) []Item {
	switch kind {
	case registryv1.PolicyKind_POLICY_KIND_PRIVACY:
		return PrivacyItems
	case registryv1.PolicyKind_POLICY_KIND_CCTV:
		return CCTVItems
	}
	return nil
}

// Lookup finds an item of a kind by key.
func Lookup(kind registryv1.PolicyKind, key string) (Item, bool) {
	for _, it := range Items(kind) {
		if it.Key == key {
			return it, true
		}
	}
	return Item{}, false
}

// DefaultTitle is the title a version carries when it states none.
func DefaultTitle(kind registryv1.PolicyKind) string {
	if kind == registryv1.PolicyKind_POLICY_KIND_CCTV {
		return "영상정보처리기기 운영·관리방침"
	}
	return "개인정보 처리방침"
}

// KindFromSegment maps the URL segment ("privacy", "cctv") to a kind.
func KindFromSegment(s string) (registryv1.PolicyKind, bool) {
	switch s {
	case "privacy":
		return registryv1.PolicyKind_POLICY_KIND_PRIVACY, true
	case "cctv":
		return registryv1.PolicyKind_POLICY_KIND_CCTV, true
	}
	return registryv1.PolicyKind_POLICY_KIND_UNSPECIFIED, false
}

// Segment is the URL segment of a kind.
func Segment(kind registryv1.PolicyKind) string {
	if kind == registryv1.PolicyKind_POLICY_KIND_CCTV {
		return "cctv"
	}
	return "privacy"
}
