package mail_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound/mail"
)

// A notice's text part keeps its words and rows, without its title and stylesheet.
func TestTextOf(t *testing.T) {
	t.Parallel()
	got := mail.TextOf(`<!doctype html><html><head><title>열람 결정 통지</title><style>th{width:9rem}</style></head>
<body><h1>열람 결정 통지</h1><table><tr><th scope="row">접수번호</th><td>R-2026-000001</td></tr>
<tr><th>수신자</th><td>김민원   귀하</td></tr></table><p>2026년 12월 7일</p></body></html>`)
	require.Equal(t, "열람 결정 통지\n접수번호: R-2026-000001\n수신자: 김민원 귀하\n2026년 12월 7일", got)
}

// The relay's settings are checked when pipa starts, each naming its variable.
func TestNewRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  mail.Config
		want string
	}{
		{mail.Config{Addr: "smtp.example.kr", From: "a@example.kr"}, "PIPA_SMTP_ADDR"},
		{mail.Config{Addr: "smtp.example.kr:x", From: "a@example.kr"}, "PIPA_SMTP_ADDR"},
		{mail.Config{Addr: "smtp.example.kr:587", From: "not an address"}, "PIPA_SMTP_FROM"},
		{mail.Config{Addr: "smtp.example.kr:587", From: "a@example.kr", TLS: "maybe"}, "PIPA_SMTP_TLS"},
	} {
		_, err := mail.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := mail.New(mail.Config{Addr: "smtp.example.kr:587", From: "정읍시 <privacy@jeongeup.go.kr>", Username: "u", Password: "p"})
	require.NoError(t, err)
}
