package policy

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// HeadingKind is what a heading starts.
type HeadingKind int

const (
	// NotAHeading: a line of text.
	NotAHeading HeadingKind = iota
	// ArticleHeading: 제N조(…), 제N조의M(…), N조. …, N. … (the styles of the seeds).
	ArticleHeading
	// SupplementHeading: 부칙, an article without a number.
	SupplementHeading
	// AttachmentHeading: 별표N, 별지 제N호 (서식), in brackets or not.
	AttachmentHeading
)

var (
	jeRE     = regexp.MustCompile(`^(제\s*\d+\s*조(?:\s*의\s*\d+)?)\s*(?:\((.*)\)\s*$|[.:]?\s+(.*)$|$)`)
	joRE     = regexp.MustCompile(`^(\d+\s*조(?:\s*의\s*\d+)?)\s*(?:\((.*)\)\s*$|[.:]?\s+(.*)$|$)`)
	dotRE    = regexp.MustCompile(`^(\d{1,2})\.\s*(\S.*)$`)
	suppRE   = regexp.MustCompile(`^부\s*칙(?:\s*[<(].*)?$`)
	attachRE = regexp.MustCompile(`^\[?\s*((?:별표|별지)\s*(?:제?\s*\d+\s*호?)?(?:\s*서식)?)\s*\]?\s*(.*)$`)
)

// ArticleStyle is a numbering style; a document keeps to one.
type ArticleStyle int

const (
	NoStyle ArticleStyle = iota
	// StyleJe: 제N조(…).
	StyleJe
	// StyleJo: N조. … (seed 004).
	StyleJo
	// StyleDot: N. … (seed 002).
	StyleDot
)

// ParseHeading reads a heading as published: what it starts, its number (spaces removed:
// "제5조의2", "1조", "1", "별표1", "별지제2호서식") and its title. style limits the article styles
// recognised (NoStyle: any).
func ParseHeading(h string, style ArticleStyle) (kind HeadingKind, s ArticleStyle, number, title string) {
	h = strings.TrimSpace(h)
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	if m := jeRE.FindStringSubmatch(h); m != nil && (style == NoStyle || style == StyleJe) {
		return ArticleHeading, StyleJe, squeeze(m[1]), strings.TrimSpace(m[2] + m[3])
	}
	if m := joRE.FindStringSubmatch(h); m != nil && (style == NoStyle || style == StyleJo) {
		return ArticleHeading, StyleJo, squeeze(m[1]), strings.TrimSpace(m[2] + m[3])
	}
	if suppRE.MatchString(h) {
		return SupplementHeading, style, "", h
	}
	if m := attachRE.FindStringSubmatch(h); m != nil && strings.ContainsAny(m[1], "0123456789") {
		return AttachmentHeading, style, squeeze(m[1]), strings.TrimSpace(m[2])
	}
	if m := dotRE.FindStringSubmatch(h); m != nil && (style == NoStyle || style == StyleDot) {
		return ArticleHeading, StyleDot, m[1], strings.TrimSpace(m[2])
	}
	return NotAHeading, style, "", ""
}

// SetHeading fills an article's number and title from its heading.
func SetHeading(a *registryv1.Article) {
	_, _, a.Number, a.Title = ParseHeading(a.GetHeading(), NoStyle)
	if a.Title == "" {
		a.Title = strings.TrimSpace(a.GetHeading())
	}
}

var squeezeTitle = strings.NewReplacer(" ", "", "\u00a0", "", "·", "", "ㆍ", "", "․", "", "・", "", ",", "")

// ArticleItems returns the items an article states: those it names, or else those its title
// matches.
func ArticleItems(kind registryv1.PolicyKind, a *registryv1.Article) []string {
	if len(a.GetItems()) > 0 {
		return a.GetItems()
	}
	title := squeezeTitle.Replace(a.GetTitle())
	if title == "" {
		title = squeezeTitle.Replace(a.GetHeading())
	}
	var out []string
	for _, it := range Items(kind) {
		if it.Titles != nil && it.Titles.MatchString(title) {
			out = append(out, it.Key)
		}
	}
	return out
}

var attestationRE = regexp.MustCompile(`\{\{\s*attestation/([a-z_]+)`)

// BoundAttestations returns the items whose attestation an article binds, with the heading of the
// first article binding each.
func BoundAttestations(v *registryv1.PolicyVersion) map[string]string {
	out := map[string]string{}
	for _, a := range v.GetArticles() {
		for _, m := range attestationRE.FindAllStringSubmatch(a.GetBody(), -1) {
			if _, ok := out[m[1]]; !ok {
				out[m[1]] = a.GetHeading()
			}
		}
	}
	return out
}

// ListItem is an item of one of the statutory lists a privacy policy answers to, and the
// catalogue keys (WG26-ITEMS) that state it.
type ListItem struct {
	Rule, Number, Heading string
	Keys                  []string
}

// STD19 is the standard guideline's 17 items of a privacy policy (STD-19), by catalogue key.
var STD19 = []ListItem{
	{"STD-19", "1", "처리 목적", []string{"purpose"}},
	{"STD-19", "2", "처리하는 개인정보의 항목", []string{"items"}},
	{"STD-19", "3", "처리 및 보유 기간", []string{"retention"}},
	{"STD-19", "4", "제3자 제공", []string{"third_party"}},
	{"STD-19", "5", "추가적인 이용·제공의 판단 기준", []string{"additional_use"}},
	{"STD-19", "6", "자동 수집 장치의 설치·운영 및 거부", []string{"auto_collection"}},
	{"STD-19", "7", "파기 절차 및 방법", []string{"destruction"}},
	{"STD-19", "8", "민감정보의 공개 가능성 및 비공개 선택 방법", []string{"sensitive"}},
	{"STD-19", "9", "처리 위탁", []string{"outsourcing"}},
	{"STD-19", "10", "가명정보의 처리", []string{"pseudonymized"}},
	{"STD-19", "11", "안전성 확보 조치", []string{"safety"}},
	{"STD-19", "12", "처리방침의 변경", []string{"changes"}},
	{"STD-19", "13", "개인정보 보호책임자 또는 담당 부서", []string{"officers"}},
	{"STD-19", "14", "국내대리인", []string{"domestic_agent"}},
	{"STD-19", "15", "정보주체와 법정대리인의 권리·의무 및 행사방법", []string{"rights"}},
	{"STD-19", "16", "열람청구를 접수·처리하는 부서", []string{"rights", "officers"}},
	{"STD-19", "17", "권익침해 구제방법", []string{"remedies"}},
}

// PIPA301 is PIPA 30(1) with Decree 31(1), by catalogue key (PIPA-30-1).
var PIPA301 = []ListItem{
	{"PIPA-30-1", "1", "처리 목적", []string{"purpose"}},
	{"PIPA-30-1", "2", "처리 및 보유 기간", []string{"retention"}},
	{"PIPA-30-1", "3", "제3자 제공", []string{"third_party"}},
	{"PIPA-30-1", "3의2", "파기 절차·방법", []string{"destruction"}},
	{"PIPA-30-1", "3의3", "민감정보의 공개 가능성 및 비공개 선택 방법", []string{"sensitive"}},
	{"PIPA-30-1", "4", "처리 위탁", []string{"outsourcing"}},
	{"PIPA-30-1", "4의2", "가명정보의 처리", []string{"pseudonymized"}},
	{"PIPA-30-1", "5", "정보주체와 법정대리인의 권리·의무 및 행사방법", []string{"rights"}},
	{"PIPA-30-1", "6", "개인정보 보호책임자 또는 담당 부서", []string{"officers"}},
	{"PIPA-30-1", "7", "자동 수집 장치의 설치·운영 및 거부", []string{"auto_collection"}},
	{"PIPA-30-1", "DEC-31-1 1", "처리하는 개인정보의 항목", []string{"items"}},
	{"PIPA-30-1", "DEC-31-1 2", "국외 이전", []string{"overseas"}},
	{"PIPA-30-1", "DEC-31-1 3", "안전성 확보 조치", []string{"safety"}},
	{"PIPA-30-1", "DEC-31-1 4", "국외에서 직접 수집하는 경우 국가명", []string{"overseas"}},
}

// Outline is the writing guide's standard outline (WG26-ITEMS, DEC-25-1): the first draft of a
// body that has no policy yet. Its articles carry the standard headings and, where the registry
// holds the facts, a table binding them; everything else the body writes. It states nothing.
func Outline(kind registryv1.PolicyKind) []*registryv1.Article {
	bodies := cctvOutline
	if kind == registryv1.PolicyKind_POLICY_KIND_PRIVACY {
		bodies = privacyOutline
	}
	var out []*registryv1.Article
	for _, it := range Items(kind) {
		body, ok := bodies[it.Key]
		if !ok {
			continue
		}
		a := &registryv1.Article{Heading: "제" + strconv.Itoa(len(out)+1) + "조(" + it.Heading + ")", Body: body}
		SetHeading(a)
		out = append(out, a)
	}
	return out
}

var cctvOutline = map[string]string{
	"purpose":      "- {{purpose.description}}",
	"installation": "| 구분 | 설치대수 | 설치위치 및 촬영범위 |\n| --- | --- | --- |\n| {{site.displayName}} | {{site.cameraCount}}대 | {{site.locations}} |",
	"officers":     "| 구분 | 이름 | 직위 | 소속 | 연락처 |\n| --- | --- | --- | --- | --- |\n| {{officer[cpo,cctv_manager,access_authorized].role}} | {{officer[cpo,cctv_manager,access_authorized].displayName}} | {{officer[cpo,cctv_manager,access_authorized].title}} | {{officer[cpo,cctv_manager,access_authorized].affiliation}} | {{officer[cpo,cctv_manager,access_authorized].phone}} |",
	"operation":    "| 구분 | 촬영시간 | 보관기간 | 보관장소 |\n| --- | --- | --- | --- |\n| {{site.displayName}} | {{site.recordingHours}} | {{site.retentionDays}}일 | {{site.storagePlace}} |",
	"review":       "",
	"requests":     "",
	"safety":       "",
	"changes":      "",
}

var privacyOutline = map[string]string{
	"purpose":     "- {{file.displayName}} : {{file.purpose}}",
	"items":       "| 개인정보파일 | 필수항목 | 선택항목 |\n| --- | --- | --- |\n| {{file.displayName}} | {{file.requiredItems|, }} | {{file.optionalItems|, }} |",
	"retention":   "| 개인정보파일 | 보유기간 | 근거 |\n| --- | --- | --- |\n| {{file.displayName}} | {{file.retention}} | {{file.retentionBasis}} |",
	"destruction": "",
	"safety":      "",
	"rights":      "",
	"officers":    "| 구분 | 성명 | 직위 | 소속 | 연락처 |\n| --- | --- | --- | --- | --- |\n| {{officer[cpo,privacy_staff,complaints].role}} | {{officer[cpo,privacy_staff,complaints].displayName}} | {{officer[cpo,privacy_staff,complaints].title}} | {{officer[cpo,privacy_staff,complaints].affiliation}} | {{officer[cpo,privacy_staff,complaints].phone}} |",
	"remedies":    "",
	"changes":     "",
}

// FullName joins the names of a tenant and of the units from the top one down as citizens read
// them: "수원시", "팔달구", "교통행정과" is "수원시 팔달구 교통행정과"; a name that already starts
// with what comes before it stands alone ("정읍시", "정읍시립도서관" is "정읍시립도서관").
func FullName(names ...string) string {
	var full string
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case full == "":
			full = n
		case strings.HasPrefix(n, lastWord(full)):
			full = strings.TrimSpace(strings.TrimSuffix(full, lastWord(full)) + " " + n)
		default:
			full += " " + n
		}
	}
	return full
}

func lastWord(s string) string {
	fs := strings.Fields(s)
	if len(fs) == 0 {
		return ""
	}
	return fs[len(fs)-1]
}

// ValidItem reports whether key is an item of kind's catalogue.
func ValidItem(kind registryv1.PolicyKind, key string) bool {
	return slices.ContainsFunc(Items(kind), func(it Item) bool { return it.Key == key })
}
