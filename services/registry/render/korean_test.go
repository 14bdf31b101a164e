package render

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParticles(t *testing.T) {
	require.Equal(t, "정읍시립도서관은", topic("정읍시립도서관"))
	require.Equal(t, "성남시 도서관사업소는", topic("성남시 도서관사업소"))
	require.Equal(t, "영상정보처리기기 운영·관리방침은", topic("영상정보처리기기 운영·관리방침"))
	require.Equal(t, "CCTV 운영 규정은", topic("CCTV 운영 규정"))
	require.Equal(t, "가명정보를", object("가명정보"))
	require.Equal(t, "ABC은(는)", topic("ABC"))
}

func TestParseBlocks(t *testing.T) {
	bs := parseBlocks("첫 줄\n둘째 줄\n\n- 가\n  - 나\n  계속\n- 다\n\n| a | b \\| c |\n| --- | --- |\n| 1 | [링크](https://example.kr) |", "표")
	require.Len(t, bs, 3)
	require.Len(t, bs[0].Para, 2)
	require.Len(t, bs[1].List, 2)
	require.Len(t, bs[1].List[0].Sub, 1)
	require.Len(t, bs[1].List[0].Sub[0].Lines, 2, "an indented line continues the last item")
	require.Equal(t, "b | c", bs[2].Table.Head[1][0].Text)
	require.Len(t, bs[2].Table.Rows, 1)
	require.Equal(t, span{Text: "링크", URL: "https://example.kr"}, bs[2].Table.Rows[0][1][0])
	for _, sp := range spans("[x](javascript:alert(1)) 와 [y](/p/a)") {
		require.NotContains(t, sp.URL, "javascript", "only http(s) and site-relative links are links")
	}
	sp := spans("[x](javascript:alert(1)) 와 [y](/p/a)")
	require.Equal(t, span{Text: "y", URL: "/p/a"}, sp[len(sp)-1])
}
