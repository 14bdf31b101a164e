package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

var (
	hrefRE = regexp.MustCompile(`href="([^"]*)"`)
	idRE   = regexp.MustCompile(`id="([^"]*)"`)
)

// crawl follows every link of the public pages from start and returns the pages it read (path →
// HTML). Every link must lead to a page that answers 200, and a link to a fragment to an element
// with that id: there is no dead link anywhere.
func crawl(t *testing.T, s *stack, start ...string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	queue := append([]string{}, start...)
	type ref struct{ from, to string }
	var fragments []ref
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, seen := pages[p]; seen {
			continue
		}
		r := s.Get(p)
		b := stacktest.Body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", p, b)
		pages[p] = b
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || strings.HasSuffix(p, "/document.html") {
			continue // a frozen document's links are those of its page
		}
		for _, m := range hrefRE.FindAllStringSubmatch(b, -1) {
			href := strings.ReplaceAll(m[1], "&amp;", "&")
			require.False(t, strings.HasPrefix(href, "http"), "%s links outside pipa: %s", p, href)
			path, frag, _ := strings.Cut(href, "#")
			if path == "" {
				path = p
			}
			if strings.HasPrefix(path, "/v1/public/") { // public data, e.g. a ledger's tlog-tiles
				r := s.Get(path)
				require.Equal(t, http.StatusOK, r.StatusCode, "%s links %s: %s", p, href, stacktest.Body(t, r))
				continue
			}
			require.True(t, strings.HasPrefix(path, "/p/"), "%s links %s, not a public page", p, href)
			if frag != "" {
				fragments = append(fragments, ref{p, path + "#" + frag})
			}
			queue = append(queue, path)
		}
	}
	for _, f := range fragments {
		path, frag, _ := strings.Cut(f.to, "#")
		var ids []string
		for _, m := range idRE.FindAllStringSubmatch(pages[path], -1) {
			ids = append(ids, m[1])
		}
		require.Contains(t, ids, frag, "%s links %s", f.from, f.to)
	}
	return pages
}

// postBreach has the library record a leak and post its notice for the subjects who cannot be
// reached (DEC-39-3): the posting is up for 30 days from now.
func postBreach(t *testing.T, s *stack) *requestsv1.Breach {
	t.Helper()
	var leak requestsv1.Breach
	require.NoError(t, protojson.Unmarshal([]byte(`{"type":"BREACH_TYPE_LEAK","knownTime":"`+time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339)+`",
		"knownEvidence":"민원 접수 기록","subjectCount":120,"cause":"BREACH_CAUSE_MISTAKE","circumstances":"회원 안내 메일을 숨은참조 없이 발송",
		"items":["성명","전자우편주소"],"occurTime":"`+time.Now().Add(-3*time.Hour).UTC().Format(time.RFC3339)+`",
		"subjectActions":"의심스러운 메일의 링크를 열지 마십시오","measures":"수신자에게 삭제 요청",
		"reliefProcedure":"피해 신고 시 상담 및 분쟁조정 안내","contact":{"department":"시립도서관 운영팀","phone":"063-539-6000"}}`), &leak))
	breaches := requestsv1.NewBreachServiceClient(s.Conn)
	cpo := s.As(auth.RoleCPO, libraryUnit)
	b, err := breaches.CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &leak})
	require.NoError(t, err)
	b, err = breaches.PostBreach(cpo, &requestsv1.PostBreachRequest{Name: b.GetName(), UnreachableReason: "회원 20명의 연락처 없음"})
	require.NoError(t, err)
	return b
}

// Every public page of the five demo bodies, from the list of bodies down: indexes, units'
// pages, policies, every version, the frozen documents, the request forms and the status page.
// No link is dead, and a unit's full name is in its titles and headings.
func TestPublicPagesHaveNoDeadLinks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, f := range []string{"jeongeup-library.yaml", "yeongtong-school.yaml", "seoul-immigration.yaml", "seongnam-library.yaml", "iksan.yaml"} {
		s.Load(f)
	}
	// The library's breach notice, posted for the subjects who cannot be reached (DEC-39-3), is
	// reached from the library's page, which lists it with the library's own title of it.
	posted := postBreach(t, s).GetPosting()
	pages := crawl(t, s, "/p/")
	for _, p := range []string{"/p/jeongeup", "/p/iksan", "/p/iksan/transport", "/p/iksan/city/privacy", "/p/seongnam/library-office/privacy/versions/1",
		"/p/jeongeup/library/requests/new", "/p/requests/status", "/p/yeongtong-es/school/cctv/versions/1/document.html", posted.GetPath()} {
		require.Contains(t, pages, p, "the crawl reaches %s", p)
	}
	title, _, _ := strings.Cut(posted.GetText(), "\n")
	require.Contains(t, pages["/p/jeongeup/library"], `<a href="`+posted.GetPath()+`">`+title+`</a> · 게시 기간 `)
	require.NotContains(t, pages["/p/iksan/transport"], "게시 중인 안내문", "a unit with no posting lists none")
	// Iksan's policy lists ten departments with their own CCTV policies: each is linked to its
	// page, which says plainly that pipa has none of theirs yet.
	city := pages["/p/iksan/city/privacy"]
	for _, u := range []string{"civil-safety", "civil-service", "sanitation", "transport", "agri-distribution",
		"water-supply", "jewelry-museum", "arts-center", "yeongdeung2-dong", "council-secretariat"} {
		require.Contains(t, city, `href="/p/iksan/`+u+`"`)
		require.Contains(t, pages["/p/iksan/"+u], "pipa에 게시된 방침이 아직 없습니다.")
	}
	unit := pages["/p/iksan/transport"]
	require.Contains(t, unit, "<title>익산시 교통행정과</title>")
	require.Contains(t, unit, "<h1>익산시 교통행정과</h1>")
	require.Contains(t, pages["/p/iksan"], `<h2 id="transport-h">익산시 교통행정과</h2>`)
	require.Contains(t, pages["/p/iksan"], `<a href="/p/iksan/city/privacy">개인정보처리방침</a>`)
	require.Contains(t, pages["/p/jeongeup/library/requests/new"], "<h1>정읍시립도서관 개인정보 열람 등 요구서</h1>")
	// A version known only by its period says so rather than showing a text.
	require.Contains(t, pages["/p/seongnam/library-office/privacy/versions/1"], "이 버전의 본문은 pipa에 보관되어 있지 않습니다")
	// No page says for a body that it does not do or have something unless the body wrote it:
	// every "…않습니다" and "…없습니다" on a page is in a seed (pipa's own notes about itself name
	// pipa).
	var seeds strings.Builder
	for _, c := range registrytest.SeedCases {
		seeds.WriteString(registrytest.Normal(registrytest.Seed(t, c.File)))
	}
	negative := regexp.MustCompile(`[^.\n]{1,60}(?:않|없)습니다`)
	tags := regexp.MustCompile(`<[^>]*>`)
	found := 0
	for p, b := range pages {
		for _, sentence := range negative.FindAllString(tags.ReplaceAllString(b, "\n"), -1) {
			if strings.Contains(sentence, "pipa") {
				continue
			}
			require.Contains(t, seeds.String(), registrytest.Normal(sentence), "%s states %q, which no body wrote", p, sentence)
			found++
		}
	}
	require.Greater(t, found, 10, "the bodies' own such sentences are found (and kept)")
}

// The bare host is for browsers: GET / sends them to the list of bodies with a Korean HTML answer,
// while the REST API under /v1/ keeps answering JSON, its 404 included.
func TestBareHostIsAPage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	r := s.Get("/") // the stack's client follows the redirect
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	require.Equal(t, "/p/", r.Request.URL.Path)
	require.Contains(t, b, `<a href="/p/jeongeup">정읍시</a>`)

	noFollow := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, err := http.NewRequest(method, s.URL+"/", nil)
		require.NoError(t, err)
		r, err = noFollow.Do(req)
		require.NoError(t, err)
		b = stacktest.Body(t, r)
		require.Equal(t, http.StatusFound, r.StatusCode, method)
		require.Equal(t, "/p/", r.Header.Get("Location"), method)
		require.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"), method)
		if method == http.MethodGet {
			require.Contains(t, b, `<html lang="ko">`)
			require.Contains(t, b, `<a href="/p/">게시 기관 목록으로</a>`)
		}
	}

	r = s.Get("/v1/nowhere")
	b = stacktest.Body(t, r)
	require.Equal(t, http.StatusNotFound, r.StatusCode, b)
	require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), r.Header.Get("Content-Type"))
	require.Contains(t, b, `"code"`)
}
