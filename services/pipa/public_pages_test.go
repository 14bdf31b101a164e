package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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

// Every public page of the five demo bodies, from the list of bodies down: indexes, units'
// pages, policies, every version, the frozen documents, the request forms and the status page.
// No link is dead, and a unit's full name is in its titles and headings.
func TestPublicPagesHaveNoDeadLinks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, f := range []string{"jeongeup-library.yaml", "yeongtong-school.yaml", "seoul-immigration.yaml", "seongnam-library.yaml", "iksan.yaml"} {
		s.Load(f)
	}
	pages := crawl(t, s, "/p/")
	for _, p := range []string{"/p/jeongeup", "/p/iksan", "/p/iksan/transport", "/p/iksan/city/privacy", "/p/seongnam/library-office/privacy/versions/1",
		"/p/jeongeup/library/requests/new", "/p/requests/status", "/p/yeongtong-es/school/cctv/versions/1/document.html"} {
		require.Contains(t, pages, p, "the crawl reaches %s", p)
	}
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
