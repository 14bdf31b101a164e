package document_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/document"
)

const (
	markdown = registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_MARKDOWN
	html     = registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_HTML
	text     = registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_TEXT
)

func headings(d *document.Document) []string {
	var hs []string
	for _, a := range append(d.Articles, d.Attachments...) {
		hs = append(hs, a.GetHeading())
	}
	return hs
}

// Every cleaned source of deploy/examples reads, keeping the seed's headings.
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("../../../deploy/examples/policies/*.md")
	require.NoError(t, err)
	require.Len(t, paths, 5)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		d, errs := document.Read(markdown, string(b))
		require.Empty(t, errs, p)
		require.NotEmpty(t, d.Articles, p)
	}
	b, err := os.ReadFile("../../../deploy/examples/policies/yeongtong-school-cctv.md")
	require.NoError(t, err)
	d, _ := document.Read(markdown, string(b))
	require.Equal(t, "영통초등학교 CCTV 운영 규정", d.Title)
	require.Equal(t, "2024. 03. 11. 제정", d.Preamble)
	require.Len(t, d.Articles, 14, "13 articles and 부칙")
	require.Equal(t, "부칙", d.Articles[13].GetHeading())
	require.Equal(t, []string{"별표1", "별표2", "별표3"}, []string{d.Attachments[0].GetNumber(), d.Attachments[1].GetNumber(), d.Attachments[2].GetNumber()})
}

// Plain text as a body pastes it: 제N조 headings, "•" bullets, tab-separated tables.
func TestText(t *testing.T) {
	d, errs := document.Read(text, "영상정보처리기기 운영·관리방침\n\n본 기관은 다음과 같이 운영합니다.\n\n"+
		"제1조(설치목적)\n\n  • ▶ 시설 안전\n    • - 화재 예방\n\n제2조(설치대수)\n\n구분\t대수\n본관\t3대\n\n"+
		"1. 이 줄은 조문이 아닙니다\n\n부칙\n\n공포한 날부터 시행한다.\n\n별표1\n\n현황")
	require.Empty(t, errs)
	require.Equal(t, "영상정보처리기기 운영·관리방침", d.Title)
	require.Equal(t, "본 기관은 다음과 같이 운영합니다.", d.Preamble)
	require.Equal(t, []string{"제1조(설치목적)", "제2조(설치대수)", "부칙", "별표1"}, headings(d))
	require.Equal(t, "- ▶ 시설 안전\n  - - 화재 예방", d.Articles[0].GetBody())
	require.Equal(t, "| 구분 | 대수 |\n| --- | --- |\n| 본관 | 3대 |\n\n1. 이 줄은 조문이 아닙니다", d.Articles[1].GetBody())
	require.Equal(t, "설치목적", d.Articles[0].GetTitle())
}

// HTML as published: headings, paragraphs that are headings, lists, tables with spans.
func TestHTML(t *testing.T) {
	d, errs := document.Read(html, `<html><head><title>x</title><script>alert(1)</script></head><body>
<nav><a href="/">처음</a></nav>
<h1>개인정보 처리방침</h1>
<p>익산시는 개인정보보호법을 준수합니다.</p>
<p><strong>1조. 개인정보의 처리 목적</strong></p>
<p>익산시는 개인정보를<br>처리합니다.</p>
<ul><li>가. 조세<ul><li>세부</li></ul></li><li>나. <a href="https://www.privacy.go.kr">포털</a></li></ul>
<h3>2조. 보유기간</h3>
<table><tr><th rowspan="2">구분</th><th colspan="2">기간</th></tr><tr><th>시작</th><th>끝</th></tr>
<tr><td>회원</td><td>가입</td><td>탈퇴 | 2년</td></tr></table>
</body></html>`)
	require.Empty(t, errs)
	require.Equal(t, "개인정보 처리방침", d.Title)
	require.Equal(t, "익산시는 개인정보보호법을 준수합니다.", d.Preamble)
	require.Equal(t, []string{"1조. 개인정보의 처리 목적", "2조. 보유기간"}, headings(d))
	require.Equal(t, "익산시는 개인정보를\n처리합니다.\n\n- 가. 조세\n  - 세부\n- 나. [포털](https://www.privacy.go.kr)", d.Articles[0].GetBody())
	// rowspan and colspan are kept: the cells they cover are merged with the cell above or left.
	require.Equal(t, "| 구분 | 기간 | {{<}} |\n| {{^}} | 시작 | 끝 |\n| --- | --- | --- |\n| 회원 | 가입 | 탈퇴 \\| 2년 |", d.Articles[1].GetBody())
}

// Merged cells written in Markdown are read as written (the importer keeps {{^}} and {{<}}).
func TestMarkdownKeepsMergedCells(t *testing.T) {
	body := "| 구분 | 대수 | 장소 |\n| --- | --- | --- |\n| 본관 | 3대 | 1층 |\n| 별관 | 2대 | {{^}} |\n| 합계 | {{<}} | {{<}} |"
	d, errs := document.Read(markdown, "# 방침\n\n## 제1조(설치)\n\n"+body)
	require.Empty(t, errs)
	require.Equal(t, body, d.Articles[0].GetBody())
}

// A malformed source is refused naming its line.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		format registryv1.PolicySourceFormat
		src    string
		line   int
		want   string
	}{
		{"no article", text, "안내문\n영상정보처리기기를 운영합니다.", 1, "no article heading"},
		{"a number twice", text, "방침\n제1조(목적)\n목적\n제2조(정의)\n정의\n제1조(적용)\n적용", 6, "numbered 제1조 again (line 2"},
		{"a broken tab table", text, "방침\n제1조(설치)\n구분\t대수\n본관\t3대\t비고", 4, "3 cells (tab-separated) and its first row 2"},
		{"a broken html table", html, "<h1>방침</h1>\n<h2>제1조(설치)</h2>\n<table>\n<tr><th>구분</th><th>대수</th></tr>\n<tr><td>본관</td><td>3대</td></tr>\n<tr><td>별관</td></tr>\n</table>", 6, "row 3 has 1 cells and its first row 2"},
		{"an html row past a rowspan", html, "<h1>방침</h1>\n<h2>제1조(설치)</h2>\n<table><tr><th>구분</th><th>장소</th></tr>\n<tr><td rowspan=\"2\">실내</td><td>수영장</td></tr>\n<tr><td>체육관</td><td>2대</td></tr></table>", 5, "row 3 has 3 cells and its first row 2"},
		{"an html rowspan past the table's end", html, "<h1>방침</h1>\n<h2>제1조(설치)</h2>\n<table><tr><th>구분</th><th>장소</th></tr>\n<tr><td rowspan=\"3\">실내</td><td>수영장</td></tr>\n<tr><td>체육관</td></tr></table>", 4, "spans 3 rows (rowspan) and runs past the table's last row"},
		{"a cell merged upward in the first body row", markdown, "# 방침\n\n## 제1조(설치)\n\n| 구분 | 대수 |\n| --- | --- |\n| {{^}} | 3대 |", 7, "merged with the cell above ({{^}}), but it has none above"},
		{"a row's first cell merged leftward", markdown, "# 방침\n\n## 제1조(설치)\n\n| 구분 | 대수 |\n| --- | --- |\n| 본관 | 3대 |\n| {{<}} | 2대 |", 8, "merged with the cell to its left ({{<}}), but it is the row's first"},
		{"merged cells that overlap", markdown, "# 방침\n\n## 제1조(설치)\n\n| a | b | c |\n| --- | --- | --- |\n| x | y | z |\n| {{^}} | {{<}} | w |", 8, "do not make a rectangle"},
		{"a broken markdown table", markdown, "# 방침\n\n## 제1조(설치)\n\n| 구분 | 대수 |\n| --- | --- |\n| 본관 |", 7, "1 cells and the table's first row 2"},
		{"a table without its rule", markdown, "# 방침\n\n## 제1조(설치)\n\n본문\n\n| 구분 | 대수 |\n| 본관 | 3대 |", 7, "no \"| --- |\" row"},
		{"a heading that is none", markdown, "# 방침\n\n## 제1조(목적)\n\n목적\n\n## 안내\n\n글", 7, "\"안내\" is not an article heading"},
		{"another style", markdown, "# 방침\n\n## 제1조(목적)\n\n목적\n\n## 2. 정의\n\n정의", 7, "is not an article heading"},
		{"an article after the attachments", markdown, "# 방침\n\n## 제1조(목적)\n\n목적\n\n## 별표1 현황\n\n현황\n\n## 제2조(정의)\n\n정의", 11, "after the attachments"},
		{"a comment left open", markdown, "# 방침\n<!-- 메모\n\n## 제1조(목적)\n\n목적", 2, "never closed"},
		{"two titles", markdown, "# 방침\n\n# 다른 방침\n\n## 제1조(목적)\n\n목적", 3, "a second title"},
		{"a third-level heading", markdown, "# 방침\n\n## 제1조(목적)\n\n### 세부\n\n목적", 5, "only \"# \""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, errs := document.Read(c.format, c.src)
			require.Nil(t, d)
			require.NotEmpty(t, errs)
			require.Equal(t, c.line, errs[0].Line, "%v", errs)
			require.Contains(t, errs[0].Msg, c.want)
		})
	}
	_, errs := document.Read(registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_UNSPECIFIED, "x")
	require.True(t, strings.Contains(errs[0].Msg, "MARKDOWN, HTML or TEXT"))
}
