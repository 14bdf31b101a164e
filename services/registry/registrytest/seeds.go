package registrytest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The five seeds and how a published text is compared with them (services/registry/seeds_test.go):
// article by article, same headings in the same order, same text. What the comparison sets aside
// is listed here and nowhere else:
//   - whitespace, and the marks that make a line a list item ("•", "-") or a table row ("|",
//     "| --- |"): the scrape and pipa lay items and tables out differently;
//   - per seed, the scraped page's text inside the articles that is not the document's (Junk).

// SeedCase is a seed institution: its verbatim seed, its tenant file and its policy's page.
type SeedCase struct {
	File, YAML, Path string
	// Headings are the seed's headings in order, and how pipa publishes each (when it differs:
	// an attachment's label and title on one line).
	Headings [][2]string
	// Preamble is the seed's text between the title and the first article.
	Preamble string
	// Junk is text of the scraped page inside the articles that is not the document's.
	Junk []string
}

// SeedCases are the five seeds (deploy/examples/seeds) and what the comparison sets aside.
var SeedCases = []SeedCase{
	{File: "000_c35ca527e454ed51.txt", YAML: "jeongeup-library.yaml", Path: "/p/jeongeup/library/cctv",
		Headings: headingsOf("제1조(영상정보처리기기의 설치근거 및 설치목적)", "제2조(설치대수, 설치위치 및 촬영범위)",
			"제3조(관리책임자 및 접근권한자)", "제4조(영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법)",
			"제5조(개인영상정보의 확인 방법 및 장소에 관한 사항)", "제6조(정보주체의 영상정보 열람 등 요구에 대한 조치)",
			"제7조(개인영상정보의 안전성 확보조치)", "제8조(영상정보처리기기 운영․관리방침 변경에 관한 사항)")},
	{File: "001_1bc735850c1279bd.txt", YAML: "yeongtong-school.yaml", Path: "/p/yeongtong-es/school/cctv",
		Headings: append(headingsOf("제1조(목적)", "제2조(정의)", "제3조(적용범위)", "제4조(개인영상정보의 보호원칙)",
			"제5조(총괄․운영책임관의 지정)", "제6조(CCTV 설치)", "제7조(CCTV의 관리․운영)", "제8조(안내판 부착)",
			"제9조(개인영상정보의 제한)", "제10조(열람 등의 요청)", "제11조(개인영상정보의 제공)", "제12조(보유 및 삭제)",
			"제13조(비밀유지의무)", "부칙"),
			[2]string{"별표1", "별표1 CCTV 설치 운영 현황 및 배치도"},
			[2]string{"별표2", "별표2 개인영상정보(□ 열람 □ 존재확인) 청구서"},
			[2]string{"별표3", "별표3 개인영상정보 관리대장"}),
		Preamble: "2024. 03. 11. 제정"},
	{File: "002_3c4ad04e024c3a44.txt", YAML: "seoul-immigration.yaml", Path: "/p/seoul-immigration/office/cctv",
		Headings: headingsOf("1. 영상정보처리기기의 설치 근거 및 설치 목적", "2. 설치 대수, 설치 위치 및 촬영범위",
			"3. 관리책임자 및 접근권한자", "4. 영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법",
			"5. 영상정보처리기기 설치 및 관리 등의 위탁에 관한 사항 (해당하는 경우만)", "6. 개인영상정보의 확인 방법 및 장소에 관한 사항",
			"7. 정보주체의 영상정보 열람 등 요구에 대한 조치", "8. 영상정보의 안전성 확보조치", "9. 개인정보 처리방침 변경에 관한 사항"),
		Preamble: "본 서울출입국·외국인청 (이하 본 기관이라 함)은 영상정보처리기기 운영·관리 방침을 통해 본 기관에서 처리하는 영상정보가 어떠한 용도와 방식으로 이용 관리되고 있는지 알려드립니다."},
	{File: "003_82515d6d50cd4a57.txt", YAML: "seongnam-library.yaml", Path: "/p/seongnam/library-office/privacy",
		Headings: headingsOf("제1조(개인정보의 처리목적)", "제2조(개인정보의 처리 및 보유기간)", "제3조(14세 미만 아동의 개인정보 처리에 관한 사항)",
			"제4조(처리하는 개인정보 항목)", "제5조(개인정보 영향평가의 수행 결과)", "제6조(개인정보의 파기 절차 및 방법)",
			"제7조(개인정보의 제3자 제공)", "제8조(개인정보 처리의 위탁)", "제9조(개인정보의 안전성 확보조치)", "제10조(가명정보의 처리)",
			"제11조(개인정보 자동 수집 장치의 설치·운영 및 거부에 관한 사항)", "제12조(정보주체와 법정대리인의 권리·의무 및 행사방법)",
			"제13조(개인정보 보호책임자)", "제14조(추가적인 이용·제공 판단기준)", "제15조(권익침해 구제방법)",
			"제16조(영상정보처리기기 설치·운영)", "제17조(개인정보 보호수준 평가 결과)", "제18조(개인정보 처리방침 변경)"),
		Preamble: "성남시 도서관사업소는 정보주체의 자유와 권리 보호를 위해「개인정보 보호법」및 관계 법령이 정한 바를 준수하며, 적법하게 개인정보를 처리하고 안전하게 관리하고 있습니다. 이에「개인정보 보호법」제30조에 따라 정보주체에게 개인정보 처리에 관한 절차 및 기준을 안내하고, 이와 관련한 고충을 신속하고 원활하게 처리할 수 있도록 하기 위하여 다음과 같이 개인정보 처리방침을 수립.공개합니다.",
		// The site's icon before 제2조's heading, and the anchor "(CPO)" before 제13조.
		Junk: []string{"🔯", "(CPO)"}},
	{File: "004_bc72d9ea962e5ad5.txt", YAML: "iksan.yaml", Path: "/p/iksan/city/privacy",
		Headings: headingsOf("1조. 개인정보의 처리 목적", "2조. 개인정보의 처리 및 보유기간", "3조 개인정보의 제3자 제공에 관한 사항",
			"4조. 개인정보처리의 위탁에 관한 사항", "5조. 정보주체의 권리의무 및 그 행사방법에 관한 사항", "6조. 처리하는 개인정보의 항목",
			"7조. 개인정보의 파기 절차 및 방법", "8조. 개인정보보호 책임자", "9조. 개인정보의 안전성 확보 조치", "10조. 권익침해 구제방법",
			"11조. 개인정보처리 방침의 변경"),
		Preamble: `익산시는 개인정보보호법 등 관련법령상의 개인정보보호 규정을 준수하며, 개인정보처리방침은 아래와 같습니다.
- 개인정보처리방침은 이용자의 개인정보 보호 및 권익을 보호하고 개인정보와 관련한 이용자의 고충을 원활하게 처리할 수 있도록 하기 위한 개인정보 처리방침이다.
- 익산시는 보유한 개인정보파일의 현황을 주기적으로 조사하여 그 결과를 개인정보보호 종합지원 포털(www.privacy.go.kr)을 통해 공개하고 있습니다.
- 개인정보처리방침을 개정하는 경우 익산시 홈페이지를 통하여 공지할 것입니다.`},
}

func headingsOf(hs ...string) [][2]string {
	out := make([][2]string, len(hs))
	for i, h := range hs {
		out[i] = [2]string{h, h}
	}
	return out
}

var (
	listMarkRE = regexp.MustCompile(`(?m)^[ \t]*(?:[•\-][ \t]*)+`)
	sepRowRE   = regexp.MustCompile(`(?m)^[ \t|:\-]*\|[ \t|:\-]*$`)
	spaceRE    = regexp.MustCompile(`\s+`)
)

// Normal is text with whitespace, list marks and table rules removed: what the comparison of a
// published text with its seed looks at.
func Normal(s string) string {
	s = sepRowRE.ReplaceAllString(s, "")
	s = listMarkRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "|", "")
	return spaceRE.ReplaceAllString(s, "")
}

// Split cuts text at the headings, each found after the one before it, and returns the text from
// each heading up to the next.
func Split(t testing.TB, text string, hs []string) []string {
	t.Helper()
	var at []int
	pos := 0
	for _, h := range hs {
		i := strings.Index(text[pos:], h)
		require.GreaterOrEqual(t, i, 0, "heading %q is missing (or out of order)", h)
		at = append(at, pos+i)
		pos += i + len(h)
	}
	out := make([]string, len(hs))
	for i := range hs {
		end := len(text)
		if i+1 < len(at) {
			end = at[i+1]
		}
		out[i] = text[at[i]:end]
	}
	return out
}

// Seed reads a seed of deploy/examples/seeds, checking that it is the seed verbatim (its SHA-256 is
// in the README beside it).
func Seed(t testing.TB, file string) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(Example(t, "x")), "seeds")
	raw, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	sums, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(sums), sha256Hex(raw)+"  "+file, "the seed is kept verbatim")
	return string(raw)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
