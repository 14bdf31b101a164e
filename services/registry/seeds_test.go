package registry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// The five seeds as pipa publishes them: each is loaded from deploy/examples through the import
// API, frozen, and served; its published text (document.txt, the bytes whose SHA-256 the ledger
// holds) is compared with the seed as the body published it (deploy/examples/seeds, verbatim),
// article by article, setting aside only what registrytest.Normal and the seed's Junk say. A text
// pipa changed, dropped, added or moved fails the test at the article where it happens.

// TestSeedsPublishedAsWritten loads each seed institution and checks its current policy against
// the seed, article by article, and that what is served is what was frozen (its SHA-256).
func TestSeedsPublishedAsWritten(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, c := range registrytest.SeedCases {
		t.Run(c.YAML, func(t *testing.T) {
			s.Load(c.YAML)
			seed := registrytest.Seed(t, c.File)
			for _, j := range c.Junk {
				seed = strings.ReplaceAll(seed, j, "")
			}

			page := s.Get(c.Path)
			html := stacktest.Body(t, page)
			require.Equal(t, http.StatusOK, page.StatusCode, html)
			version := regexp.MustCompile(`href="(` + regexp.QuoteMeta(c.Path) + `/versions/\d+/document\.txt)"`).FindStringSubmatch(html)
			require.NotNil(t, version, "the page links its frozen text")
			r := s.Get(version[1])
			text := stacktest.Body(t, r)
			require.Equal(t, http.StatusOK, r.StatusCode)
			sum := sha256.Sum256([]byte(text))
			require.Contains(t, html, hex.EncodeToString(sum[:]), "the page shows the SHA-256 of the text it serves")

			var seedHeads, ourHeads []string
			for _, h := range c.Headings {
				seedHeads, ourHeads = append(seedHeads, h[0]), append(ourHeads, h[1])
				require.Contains(t, html, ">"+h[1]+"</h2>", "the page has the article heading as published")
			}
			got := registrytest.Split(t, text, ourHeads)
			exp := registrytest.Split(t, seed, seedHeads)
			for i, h := range c.Headings {
				g, e := []rune(registrytest.Normal(got[i])), []rune(registrytest.Normal(exp[i]))
				if string(g) != string(e) {
					n := 0
					for n < len(g) && n < len(e) && g[n] == e[n] {
						n++
					}
					n = max(0, n-20)
					t.Errorf("%s differs from the seed\n seed: …%.80s\n pipa: …%.80s", h[0], string(e[n:]), string(g[n:]))
				}
			}
			if c.Preamble != "" {
				pre := text[:strings.Index(text, ourHeads[0])]
				require.Contains(t, registrytest.Normal(pre), registrytest.Normal(c.Preamble), "the preamble as published")
			}
		})
	}
}
