package policy

import (
	"testing"

	"github.com/stretchr/testify/require"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// The headings of the five seeds, read as they are published.
func TestParseHeading(t *testing.T) {
	for _, c := range []struct {
		heading       string
		kind          HeadingKind
		number, title string
	}{
		{"제1조(영상정보처리기기의 설치근거 및 설치목적)", ArticleHeading, "제1조", "영상정보처리기기의 설치근거 및 설치목적"},
		{"제14조의2(추가적인 이용·제공)", ArticleHeading, "제14조의2", "추가적인 이용·제공"},
		{"제 3 조 (적용범위)", ArticleHeading, "제3조", "적용범위"},
		{"1조. 개인정보의 처리 목적", ArticleHeading, "1조", "개인정보의 처리 목적"},
		{"3조 개인정보의 제3자 제공에 관한 사항", ArticleHeading, "3조", "개인정보의 제3자 제공에 관한 사항"},
		{"1. 영상정보처리기기의 설치 근거 및 설치 목적", ArticleHeading, "1", "영상정보처리기기의 설치 근거 및 설치 목적"},
		{"부칙", SupplementHeading, "", "부칙"},
		{"별표1 CCTV 설치 운영 현황 및 배치도", AttachmentHeading, "별표1", "CCTV 설치 운영 현황 및 배치도"},
		{"[별표 2] 청구서", AttachmentHeading, "별표2", "청구서"},
		{"별지 제2호 서식", AttachmentHeading, "별지제2호서식", ""},
		{"2024. 03. 11. 제정", NotAHeading, "", ""},
		{"개인정보처리방침", NotAHeading, "", ""},
	} {
		kind, _, number, title := ParseHeading(c.heading, NoStyle)
		require.Equal(t, c.kind, kind, c.heading)
		require.Equal(t, c.number, number, c.heading)
		if c.kind != SupplementHeading {
			require.Equal(t, c.title, title, c.heading)
		}
	}
	// Within a 제N조 document, "1. …" is a line of text.
	kind, _, _, _ := ParseHeading("1. 홈페이지 회원 가입 및 관리", StyleJe)
	require.Equal(t, NotAHeading, kind)
}

func TestFullName(t *testing.T) {
	require.Equal(t, "수원시 팔달구 교통행정과", FullName("수원시", "팔달구", "교통행정과"))
	require.Equal(t, "정읍시립도서관", FullName("정읍시", "정읍시립도서관"))
	require.Equal(t, "익산시 교통행정과", FullName("익산시", "익산시", "교통행정과"))
	require.Equal(t, "성남시 도서관사업소", FullName("성남시", "성남시 도서관사업소"))
	require.Equal(t, "영통초등학교", FullName("영통초등학교", "영통초등학교"))
}

// The outline of a body without a policy states nothing: its articles have the guide's headings
// and, where the registry holds the facts, tables that bind them; the rest is left to the body.
func TestOutline(t *testing.T) {
	for _, kind := range []registryv1.PolicyKind{registryv1.PolicyKind_POLICY_KIND_CCTV, registryv1.PolicyKind_POLICY_KIND_PRIVACY} {
		as := Outline(kind)
		require.NotEmpty(t, as)
		for i, a := range as {
			require.Equal(t, "제"+string(rune('1'+i%9))+"조", a.GetNumber()[:len("제1조")], a.GetHeading())
			require.NotContains(t, a.GetBody(), "않습니다", "no statement of pipa's own")
			require.NotContains(t, a.GetBody(), "합니다")
		}
	}
	v := &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV, Articles: Outline(registryv1.PolicyKind_POLICY_KIND_CCTV)}
	fs := Check(v)
	require.False(t, Ready(fs), "the articles without text block the announcement")
}
