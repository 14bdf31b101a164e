package requests_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	kst "github.com/pipa-kr/pipa/pkg/seoul"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// postForm posts values form-encoded, as a browser submits a form.
func (s *stack) postForm(path string, values url.Values) (int, http.Header, string) {
	s.T().Helper()
	resp, err := s.HTTP.PostForm(s.URL+path, values)
	require.NoError(s.T(), err)
	return resp.StatusCode, resp.Header, stacktest.Body(s.T(), resp)
}

// accessForm is an ACCESS request as a citizen fills the public form (별지 제8호).
func accessForm(requestID string) url.Values {
	return url.Values{
		"request_id":        {requestID},
		"type":              {"ACCESS"},
		"requester_name":    {"김민원"},
		"requester_phone":   {"010-1234-5678"},
		"requester_address": {"전북 정읍시 중앙1길 1"},
		"agency_kind":       {""},
		"access_items":      {"CONTENT", "PROVISION_HISTORY"},
		"details":           {"도서관 회원정보 일체"},
	}
}

// between is the text of page between the first start after the element with id and end.
func between(t testing.TB, page, id, end string) string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no element with id %s", id)
	rest := page[i:]
	j := strings.Index(rest, end)
	require.GreaterOrEqual(t, j, 0)
	return rest[:j]
}

var (
	receiptOnPage = regexp.MustCompile(`id="receipt">(R-\d{4}-\d{6})<`)
	secretOnPage  = regexp.MustCompile(`id="secret">([A-Z2-7]{16})<`)
)

// A citizen submits an ACCESS request through the HTML form (DEC-41-1's items as boxes), gets
// the receipt number and the secret shown once, submitting twice gives one request (AIP-155),
// and the status page tells the state in Korean to the holder of the secret only, with one
// answer for a wrong secret and an unknown receipt.
func TestRequestPagesAccess(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	form := s.Get("/p/jeongeup/library/requests/new")
	page := stacktest.Body(t, form)
	require.Equal(t, http.StatusOK, form.StatusCode, page)
	requestID := requestIDOf(page)
	require.NotEmpty(t, requestID, "the form carries a fresh request_id")

	code, header, page := s.postForm("/p/jeongeup/library/requests", accessForm(requestID))
	require.Equal(t, http.StatusOK, code, page)
	require.Equal(t, "no-store", header.Get("Cache-Control"))
	require.Contains(t, page, "확인번호는 지금 한 번만 표시됩니다")
	// The receipt names the body the request went to, by its full name.
	require.Contains(t, page, "<title>정읍시립도서관 요구서 접수 완료</title>")
	require.Contains(t, page, "<h1>정읍시립도서관에 요구서가 접수되었습니다</h1>")
	receipt, secret := receiptOnPage.FindStringSubmatch(page), secretOnPage.FindStringSubmatch(page)
	require.NotNil(t, receipt, page)
	require.NotNil(t, secret, page)
	require.Regexp(t, `<time datetime="\d{4}-\d{2}-\d{2}">\d{4}년 \d{1,2}월 \d{1,2}일</time>까지`, page, "the due date")
	require.Contains(t, page, `href="/p/requests/status?receipt=`+receipt[1]+`"`)

	_, _, again := s.postForm("/p/jeongeup/library/requests", accessForm(requestID))
	require.Equal(t, receipt[1], receiptOnPage.FindStringSubmatch(again)[1], "a double submit is one request")
	require.Equal(t, secret[1], secretOnPage.FindStringSubmatch(again)[1])

	// The status page: the lookup is a POST, so the secret stays out of URLs.
	status := s.Get("/p/requests/status?receipt=" + receipt[1])
	page = stacktest.Body(t, status)
	require.Equal(t, http.StatusOK, status.StatusCode)
	require.Contains(t, page, `value="`+receipt[1]+`"`, "the receipt link fills the receipt in")
	code, header, page = s.postForm("/p/requests/status", url.Values{"receipt": {receipt[1]}, "secret": {strings.ToLower(secret[1])}})
	require.Equal(t, http.StatusOK, code, page)
	require.Equal(t, "no-store", header.Get("Cache-Control"))
	require.Contains(t, page, `<strong id="state">접수</strong>`)
	require.Contains(t, page, "<h1>정읍시립도서관 요구 처리 상태</h1>", "the status names the body handling the request")
	require.Contains(t, page, "개인정보 열람")
	require.Contains(t, page, "아직 보낸 통지가 없습니다")
	require.NotContains(t, page, "김민원", "the status page shows no personal data")

	code, _, wrong := s.postForm("/p/requests/status", url.Values{"receipt": {receipt[1]}, "secret": {"AAAAAAAAAAAAAAAA"}})
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, wrong, "접수번호 또는 확인번호가 올바르지 않습니다")
	unknown := "R-2026-999999"
	code, _, none := s.postForm("/p/requests/status", url.Values{"receipt": {unknown}, "secret": {secret[1]}})
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, strings.ReplaceAll(wrong, receipt[1], unknown), none, "a wrong secret and an unknown receipt look the same")
}

// A form that misses the requester's name comes back 400 with what was typed kept and the error
// beside the field, in Korean and in the service's words, and listed at the top.
func TestRequestPagesInvalid(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	f := accessForm("web-invalid-1")
	f.Set("requester_name", " ")
	code, header, page := s.postForm("/p/jeongeup/library/requests", f)
	require.Equal(t, http.StatusBadRequest, code, page)
	require.Equal(t, "no-store", header.Get("Cache-Control"))
	require.Contains(t, page, `value="010-1234-5678"`)
	require.Contains(t, page, `value="전북 정읍시 중앙1길 1"`)
	require.Contains(t, page, ">도서관 회원정보 일체</textarea>")
	require.Regexp(t, `id="access_items-CONTENT" name="access_items" value="CONTENT" checked`, page)
	require.Regexp(t, `id="type-ACCESS" name="type" value="ACCESS" required checked`, page)
	require.Contains(t, page, `name="request_id" value="web-invalid-1"`, "nothing was stored: the same id may be sent again")

	nameErr := between(t, page, "requester_name-err", "</div>")
	require.Contains(t, nameErr, "반드시 적어야 합니다")
	require.Contains(t, nameErr, "must not be empty")
	require.Regexp(t, `id="requester_name" name="requester_name" value=" "[^>]*aria-describedby="requester_name-err" aria-invalid="true"`, page)
	require.Contains(t, page, `<a href="#requester_name">청구인 성명</a>`)

	// Fixed and sent again with the same id, it is accepted.
	f.Set("requester_name", "김민원")
	code, _, page = s.postForm("/p/jeongeup/library/requests", f)
	require.Equal(t, http.StatusOK, code, page)
	require.NotNil(t, receiptOnPage.FindStringSubmatch(page))
}

// A CCTV request (별지 제2호) names the site from the unit's list, the recording period in Seoul
// time and the camera; without "the footage shows me" it is refused on STD-44-1.
func TestRequestPagesCCTV(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	now := time.Now().In(kst.Location)
	f := url.Values{
		"request_id":              {"web-cctv-1"},
		"type":                    {"CCTV_ACCESS"},
		"requester_name":          {"김민원"},
		"requester_phone":         {"010-1234-5678"},
		"footage_site":            {"central|도서관 주차장"},
		"footage_start_time":      {now.Add(-26 * time.Hour).Format("2006-01-02T15:04")},
		"footage_end_time":        {now.Add(-25 * time.Hour).Format("2006-01-02T15:04")},
		"footage_camera_location": {"주차장 출입구"},
		"purpose":                 {"주차 차량 파손 확인"},
	}
	code, _, page := s.postForm("/p/jeongeup/library/requests", f)
	require.Equal(t, http.StatusBadRequest, code, page)
	appears := between(t, page, "footage_requester_appears-err", "</div>")
	require.Contains(t, appears, "STD-44-1")
	require.Contains(t, appears, "본인이 촬영된 영상에 대해서만")
	require.Contains(t, page, `<option value="central|도서관 주차장" selected>중앙도서관 — 도서관 주차장</option>`, "the site chosen is kept")

	f.Set("footage_requester_appears", "on")
	code, _, page = s.postForm("/p/jeongeup/library/requests", f)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "개인영상정보 열람")
}

// The form is a Korean HTML page that works without scripts or outside assets, and every field
// has its label.
func TestRequestPagesFormHTML(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	resp := s.Get("/p/jeongeup/library/requests/new")
	page := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the form's request_id is not to be shared")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.True(t, strings.HasPrefix(page, "<!doctype html>\n<html lang=\"ko\">"))
	require.Contains(t, page, `<meta name="referrer" content="no-referrer">`)
	require.Contains(t, page, "<title>정읍시립도서관 개인정보 열람 등 요구서</title>")
	require.NotContains(t, strings.ToLower(page), "<script")
	require.NotRegexp(t, `(src|href)="(https?:)?//`, page, "no outside assets")

	ids, labels := map[string]bool{}, map[string]bool{}
	var fields []string
	z := html.NewTokenizer(strings.NewReader(page))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		tok := z.Token()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		attr := map[string]string{}
		for _, a := range tok.Attr {
			attr[a.Key] = a.Val
		}
		if id, ok := attr["id"]; ok {
			require.False(t, ids[id], "duplicate id %s", id)
			ids[id] = true
		}
		switch tok.Data {
		case "label":
			labels[attr["for"]] = true
		case "input", "select", "textarea":
			if attr["type"] == "hidden" {
				continue
			}
			require.NotEmpty(t, attr["id"], "a %s without id: %v", tok.Data, tok)
			fields = append(fields, attr["id"])
		}
	}
	require.ErrorIs(t, z.Err(), io.EOF)
	for _, id := range fields {
		require.True(t, labels[id], "no <label for=%q>", id)
	}
	require.Greater(t, len(fields), 30, "the fields of 별지 제8호, 제11호 and 제2호")
	for _, id := range []string{"type-CCTV_EXISTENCE", "requester_birth_date", "subject_name", "agency_kind-PROXY",
		"subject_under_14", "agency_scope-ACCESS", "agency_granted_date", "access_items-CONSENT", "details",
		"footage_site", "footage_start_time", "footage_end_time", "footage_camera_location", "footage_requester_appears", "purpose"} {
		require.True(t, ids[id], "the form has %s", id)
	}
	require.Contains(t, page, `type="datetime-local" id="footage_start_time"`)
	require.Contains(t, page, `<option value="miracle|">기적의도서관</option>`, "the unit's sites to choose from")
	require.NotContains(t, page, "THIRD_PARTY_PROVISION", "other bodies' requests are taken by staff")

	require.Equal(t, http.StatusNotFound, s.Get("/p/jeongeup/nowhere/requests/new").StatusCode)
	again := s.Get("/p/jeongeup/library/requests")
	require.Equal(t, http.StatusOK, again.StatusCode, "a reload of the posted form's address lands on the form")
	require.NotEqual(t, requestIDOf(page), requestIDOf(stacktest.Body(t, again)), "each form gets its own request_id")
}

func requestIDOf(page string) string {
	m := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}
