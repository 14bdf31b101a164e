package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// A body pipa has no seed of, set up over REST as a city would, imports its CCTV policy's past
// and current versions in each format pipa reads: plain text with 제N조 headings and a
// tab-separated 별표, Markdown, and HTML with a rowspan table. Each version publishes article for
// article as written (same headings, order and text), frozen in full: its page and its text are
// there after the next version took over, and the SHA-256 of each frozen document is in the
// unit's ledger as a PUBLICATION entry (STD-21). The page in force links every version and shows
// the 신·구 대조표 of the last change. A malformed import is refused naming its line, and nothing
// is stored.
func TestNewBodyPublishesAsWritten(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	admin := s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		resp := s.Do(method, path, bytes.NewReader(b), "Authorization", "Bearer "+admin, "Content-Type", "application/json")
		raw := stacktest.Body(t, resp)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
		return resp.StatusCode, out
	}
	code, out := call(http.MethodPost, "/v1/tenants?tenantId=gwacheon", map[string]any{"displayName": "과천시",
		"kind": "TENANT_KIND_LOCAL_GOVERNMENT", "publicInstitution": true})
	require.Equal(t, http.StatusOK, code, out)
	code, out = call(http.MethodPost, "/v1/tenants/gwacheon/units?unitId=sports", map[string]any{"displayName": "체육시설관리과"})
	require.Equal(t, http.StatusOK, code, out)
	const parent = "/v1/tenants/gwacheon/units/sports/policies/cctv/versions"

	type version struct {
		format, from, to, source string
		// articles as the body wrote them: heading, text.
		articles [][2]string
	}
	purpose := [2]string{"제1조(목적)", "이 방침은 과천시 체육시설에 설치된 영상정보처리기기의 운영에 관하여 정한다."}
	versions := []version{
		{"POLICY_SOURCE_FORMAT_TEXT", "2019-01-01", "2020-12-31",
			"과천시 체육시설 영상정보처리기기 운영방침\n제1조(목적)\n" + purpose[1] + "\n제2조(보관기간)\n영상정보는 15일간 보관한 후 삭제한다.\n" +
				"별표1 설치 현황\n구분\t장소\t대수\n실내\t수영장 입구\t2대\n",
			[][2]string{purpose, {"제2조(보관기간)", "영상정보는 15일간 보관한 후 삭제한다."}, {"별표1 설치 현황", "구분 장소 대수 실내 수영장 입구 2대"}}},
		{"POLICY_SOURCE_FORMAT_MARKDOWN", "2021-01-01", "2023-12-31",
			"# 과천시 체육시설 영상정보처리기기 운영방침\n\n## 제1조(목적)\n\n" + purpose[1] + "\n\n## 제2조(보관기간)\n\n영상정보는 20일간 보관한 후 삭제한다.\n\n" +
				"## 제2조의2(열람)\n\n- 정보주체는 체육시설관리과에 열람을 청구할 수 있다.\n- 청구는 서면으로 한다.\n\n" +
				"## 별표1 설치 현황\n\n| 구분 | 장소 | 대수 |\n| --- | --- | --- |\n| 실내 | 수영장 입구 | 2대 |\n",
			[][2]string{purpose, {"제2조(보관기간)", "영상정보는 20일간 보관한 후 삭제한다."},
				{"제2조의2(열람)", "정보주체는 체육시설관리과에 열람을 청구할 수 있다. 청구는 서면으로 한다."},
				{"별표1 설치 현황", "구분 장소 대수 실내 수영장 입구 2대"}}},
		{"POLICY_SOURCE_FORMAT_HTML", "2024-01-01", "",
			"<html><body><nav><a href=\"/\">처음으로</a></nav><h1>과천시 체육시설 영상정보처리기기 운영방침</h1>\n<h2>제1조(목적)</h2>\n<p>" + purpose[1] + "</p>\n" +
				"<h2>제2조(보관기간)</h2>\n<p>영상정보는 30일간 보관한 후 삭제한다.</p>\n" +
				"<h2>제2조의2(열람)</h2>\n<ul><li>정보주체는 체육시설관리과에 열람을 청구할 수 있다.</li><li>청구는 서면으로 한다.</li></ul>\n" +
				"<h2>별표1 설치 현황</h2>\n<table><tr><th>구분</th><th>장소</th><th>대수</th></tr>\n<tr><td rowspan=\"2\">실내</td><td>수영장 입구</td><td>2대</td></tr>\n" +
				"<tr><td>체력단련실</td><td>1대</td></tr></table></body></html>",
			[][2]string{purpose, {"제2조(보관기간)", "영상정보는 30일간 보관한 후 삭제한다."},
				{"제2조의2(열람)", "정보주체는 체육시설관리과에 열람을 청구할 수 있다. 청구는 서면으로 한다."},
				{"별표1 설치 현황", "구분 장소 대수 실내 수영장 입구 2대 체력단련실 1대"}}},
	}
	for i, v := range versions {
		code, out := call(http.MethodPost, parent+":import", map[string]any{"requestId": fmt.Sprintf("import-%d", i+1),
			"policyVersion": map[string]any{"effectiveDate": v.from, "endDate": v.to},
			"source":        map[string]any{"format": v.format, "content": v.source}})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, float64(i+1), out["number"])
	}

	// A malformed import (제1조 twice) is refused naming the line; nothing is stored.
	code, out = call(http.MethodPost, parent+":import", map[string]any{"requestId": "import-bad",
		"policyVersion": map[string]any{"effectiveDate": "2018-01-01", "endDate": "2018-12-31"},
		"source": map[string]any{"format": "POLICY_SOURCE_FORMAT_TEXT",
			"content": "방침\n제1조(목적)\n목적\n제1조(정의)\n정의"}})
	require.Equal(t, http.StatusBadRequest, code, out)
	require.Contains(t, out["message"], "line 4: 제1조(정의) is numbered 제1조 again")
	code, out = call(http.MethodGet, parent, nil)
	require.Equal(t, http.StatusOK, code, out)
	require.Len(t, out["policyVersions"], len(versions), "the refused import stored nothing")

	for i, v := range versions {
		n := i + 1
		page := fmt.Sprintf("/p/gwacheon/sports/cctv/versions/%d", n)
		r := s.Get(page)
		html := stacktest.Body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, html)
		require.Contains(t, html, "<title>과천시 체육시설 영상정보처리기기 운영방침 | 과천시 체육시설관리과</title>")

		// Article for article as the body wrote it.
		r = s.Get(page + "/document.txt")
		text := stacktest.Body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode)
		var heads []string
		for _, a := range v.articles {
			heads = append(heads, a[0])
		}
		got := registrytest.Split(t, text, heads)
		require.Len(t, strings.Split(strings.TrimSpace(text[strings.Index(text, heads[0]):]), "\n\n"), 2*len(heads), "no article added: %s", text)
		for j, a := range v.articles {
			require.Equal(t, registrytest.Normal(a[0]+a[1]), registrytest.Normal(got[j]), "version %d, %s", n, a[0])
		}

		// Frozen, provably: the document's SHA-256 is the PUBLICATION entry's.
		r = s.Get(page + "/document.html")
		doc := stacktest.Body(t, r)
		sum := sha256.Sum256([]byte(doc))
		require.Contains(t, html, hex.EncodeToString(sum[:]))
		var entry string
		require.Eventually(t, func() bool {
			_, out := call(http.MethodGet, fmt.Sprintf("%s/%d", parent, n), nil)
			entry, _ = out["document"].(map[string]any)["ledgerEntry"].(string)
			return entry != ""
		}, 30*time.Second, 100*time.Millisecond, "version %d's publication reaches the ledger", n)
		code, e := call(http.MethodGet, "/v1/"+entry, nil)
		require.Equal(t, http.StatusOK, code, e)
		require.Equal(t, "ENTRY_KIND_PUBLICATION", e["kind"])
		require.Equal(t, hex.EncodeToString(sum[:]), e["documentSha256"])
		require.Equal(t, fmt.Sprintf("tenants/gwacheon/units/sports/policies/cctv/versions/%d", n), e["fileName"])
	}

	// The page in force: version 3, every version linked, and the 신·구 대조표 of its change.
	r := s.Get("/p/gwacheon/sports/cctv")
	html := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, html)
	require.Contains(t, html, "현행 — 2024. 01. 01. ~")
	for n := 1; n <= len(versions); n++ {
		require.Contains(t, html, fmt.Sprintf(`href="/p/gwacheon/sports/cctv/versions/%d"`, n))
	}
	_, changes, found := strings.Cut(html, `<h2 id="changes-h">신·구 대조표</h2>`)
	require.True(t, found, "the page shows the 신·구 대조표")
	changes, _, _ = strings.Cut(changes, "</section>")
	require.Contains(t, changes, `<th scope="row">제2조(보관기간)</th><td><pre class="change">영상정보는 20일간 보관한 후 삭제한다.</pre></td><td><pre class="change">영상정보는 30일간 보관한 후 삭제한다.</pre></td>`)
	require.Contains(t, changes, `<th scope="row">별표1 설치 현황</th>`)
	require.NotContains(t, changes, "제1조(목적)", "an article that did not change is not in the table")
	require.NotContains(t, html, "처음으로", "the source page's navigation is not the document's")

	// The body's index lists the unit by its full name, with its policy.
	r = s.Get("/p/gwacheon")
	index := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, index, "과천시 체육시설관리과")
	require.Contains(t, index, `href="/p/gwacheon/sports/cctv"`)
}
