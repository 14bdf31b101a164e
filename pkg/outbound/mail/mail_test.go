package mail_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
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

// A relay that requires STARTTLS and AUTH (here LOGIN, the one Microsoft's relays offer) takes
// the mail of the right user over TLS to its own CA; the wrong password is refused with the
// relay's 535, which the sender answers; a client that will not upgrade is refused before AUTH.
func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	ms := outboundtest.StartMailAuth(t, "privacy@jeongeup.go.kr", "correct horse", sasl.Login)
	payload, err := mail.Message{To: "minwon@example.kr", Subject: "[R-2026-000001] 개인정보 열람 결정 통지", Text: "접수번호: R-2026-000001"}.Payload()
	require.NoError(t, err)
	d := outbound.Delivery{Tenant: "jeongeup", ID: 1, Message: outbound.Message{Channel: outbound.Mail, Key: "requests-1", Payload: payload}}
	send := func(cfg mail.Config) (string, error) {
		cfg.Addr, cfg.From, cfg.CAFile = ms.Addr, "정읍시립도서관 <privacy@jeongeup.go.kr>", ms.CAFile
		s, err := mail.New(cfg)
		require.NoError(t, err)
		return s.Send(t.Context(), d)
	}

	answer, err := send(mail.Config{Username: "privacy@jeongeup.go.kr", Password: "correct horse", TLS: "starttls"})
	require.NoError(t, err)
	require.Equal(t, "2.0.0 OK: queued", answer, "the relay's reply")
	require.Len(t, ms.Mail(), 1)
	require.Equal(t, "[R-2026-000001] 개인정보 열람 결정 통지", ms.Mail()[0].Subject)
	require.Equal(t, "<requests-1@jeongeup.go.kr>", ms.Mail()[0].Header.Get("Message-Id"))
	require.Equal(t, "base64", ms.Mail()[0].Header.Get("Content-Transfer-Encoding"),
		"Korean text goes in base64: 4 bytes for 3, where quoted-printable takes 9 for a Hangul syllable")
	require.Equal(t, "접수번호: R-2026-000001", ms.Mail()[0].Text)

	answer, err = send(mail.Config{Username: "privacy@jeongeup.go.kr", Password: "wrong", TLS: "starttls"})
	require.Error(t, err)
	require.Contains(t, answer+err.Error(), "535")
	_, err = send(mail.Config{Username: "privacy@jeongeup.go.kr", Password: "correct horse", TLS: "none"})
	require.Error(t, err, "no AUTH without STARTTLS")
	require.Len(t, ms.Mail(), 1, "nothing else was taken")
}

// Mail after mail goes over the one connection the sender keeps open; when the relay has closed
// it meanwhile, the next mail goes over a new one and is not lost.
func TestSendKeepsTheConnection(t *testing.T) {
	t.Parallel()
	ms := outboundtest.StartMail(t)
	s, err := mail.New(mail.Config{Addr: ms.Addr, From: "정읍시립도서관 <privacy@jeongeup.go.kr>", TLS: "none"})
	require.NoError(t, err)
	send := func(i int) {
		t.Helper()
		payload, err := mail.Message{To: "minwon@example.kr", Subject: "통지", Text: "접수번호: R-2026-000001"}.Payload()
		require.NoError(t, err)
		_, err = s.Send(t.Context(), outbound.Delivery{Tenant: "jeongeup", ID: int64(i),
			Message: outbound.Message{Channel: outbound.Mail, Key: fmt.Sprintf("requests-%d", i), Payload: payload}})
		require.NoError(t, err)
	}
	for i := range 3 {
		send(i)
	}
	require.Len(t, ms.Mail(), 3)
	require.EqualValues(t, 1, ms.Conns.Load(), "one connection for the three")

	ms.CloseConnections()
	send(3)
	require.Len(t, ms.Mail(), 4, "the mail after the relay closed the connection")
	require.Equal(t, "<requests-3@jeongeup.go.kr>", ms.Mail()[3].Header.Get("Message-Id"))
	require.EqualValues(t, 2, ms.Conns.Load())

	// Closed (the process stops): the idle connection's session ends, and a later send does not
	// keep its connection open.
	require.Eventually(t, func() bool { return ms.Sessions.Load() == 1 }, 10*time.Second, 10*time.Millisecond,
		"the idle connection is kept open until Close")
	require.NoError(t, s.Close())
	require.Eventually(t, func() bool { return ms.Sessions.Load() == 0 }, 10*time.Second, 10*time.Millisecond)
	send(4)
	require.Len(t, ms.Mail(), 5)
	require.Eventually(t, func() bool { return ms.Sessions.Load() == 0 }, 10*time.Second, 10*time.Millisecond)
}

// A relay refusing the recipient names the address in its reply, and go-mail adds it to its
// error ("affected recipient(s): …"); what Send answers is recorded unsealed, logged and shown to
// staff, so neither its answer nor its error names the address: <recipient> stands for it. The
// reply code stays, and decides: 550 is not retried, 450 is.
func TestSendNamesNoRecipient(t *testing.T) {
	t.Parallel()
	ms := outboundtest.StartMail(t)
	s, err := mail.New(mail.Config{Addr: ms.Addr, From: "정읍시립도서관 <privacy@jeongeup.go.kr>", TLS: "none"})
	require.NoError(t, err)
	for _, tc := range []struct {
		to, addr  string
		code      int
		permanent bool
	}{
		{"Minwon@Example.kr", "Minwon@Example.kr", 550, true},
		{"김민원 <minwon2@example.kr>", "minwon2@example.kr", 450, false},
	} {
		ms.Refuse(tc.addr, tc.code)
		payload, err := mail.Message{To: tc.to, Subject: "통지", Text: "접수번호: R-2026-000001"}.Payload()
		require.NoError(t, err)
		answer, err := s.Send(t.Context(), outbound.Delivery{Tenant: "jeongeup", ID: 1,
			Message: outbound.Message{Channel: outbound.Mail, Key: "requests-1", Payload: payload}})
		require.Error(t, err)
		require.Equal(t, tc.permanent, outbound.IsPermanent(err), err.Error())
		for _, text := range []string{answer, err.Error()} {
			require.NotContains(t, strings.ToLower(text), "minwon", "the text names no recipient")
			require.NotContains(t, text, "김민원")
		}
		require.Contains(t, err.Error(), "<recipient>")
		require.Contains(t, err.Error(), strconv.Itoa(tc.code))
	}
	require.Empty(t, ms.Mail())
}

// benchNotice is a decision notice as pipa renders it (request.renderNotice), for BenchmarkSend.
const benchNotice = `<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>개인정보 열람 결정 통지</title>
<style>body{font-family:"Nanum Myeongjo","Batang",serif;margin:2rem;color:#000}table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:.4rem .6rem;text-align:left;vertical-align:top}th{width:9rem;background:#f2f2f2}@page{size:A4;margin:20mm}@media print{body{margin:0}th{background:none}}</style></head>
<body><main>
<p>[별지 제9호서식]</p>
<h1>개인정보 열람 결정 통지</h1>
<table>
<tr><th scope="row">접수번호</th><td>R-2026-000123</td></tr>
<tr><th scope="row">수신자</th><td>김민원 귀하</td></tr>
<tr><th scope="row">요구 내용</th><td>개인정보 열람 — 도서 대출 기록 및 회원 정보 일체</td></tr>
<tr><th scope="row">일시</th><td>2026년 12월 14일 10시 00분</td></tr>
<tr><th scope="row">장소</th><td>정읍시립도서관 2층 민원실</td></tr>
<tr><th scope="row">형태</th><td>열람</td></tr>
<tr><th scope="row">방법</th><td>직접방문</td></tr>
<tr><th scope="row">수수료</th><td>0원 (우송료 0원, 합계 0원) — 정읍시 수수료 조례 제3조</td></tr>
</table>
<p>2026년 12월 7일</p>
<p>정읍시립도서관장</p>
</main></body></html>`

// BenchmarkSend sends a decision notice's mail (HTML and its text, in Korean) to a real SMTP
// server over a kept connection: the sender's CPU and allocations per mail (issue 17).
//
//	cd pkg && go test ./outbound/mail -run '^$' -bench BenchmarkSend -benchmem
func BenchmarkSend(b *testing.B) {
	ms := outboundtest.StartMail(b)
	s, err := mail.New(mail.Config{Addr: ms.Addr, From: "정읍시립도서관 <privacy@jeongeup.go.kr>", TLS: "none"})
	require.NoError(b, err)
	m := mail.Message{To: "minwon@example.kr", Subject: "[R-2026-000123] 개인정보 열람 결정 통지", Text: mail.TextOf(benchNotice), HTML: benchNotice}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, err := s.Send(b.Context(), outbound.Delivery{Tenant: "jeongeup", ID: int64(i),
			Message: outbound.Message{Channel: outbound.Mail, Key: "requests-" + strconv.Itoa(i)}, Content: m})
		require.NoError(b, err)
	}
	b.StopTimer()
	require.Len(b, ms.Mail(), b.N)
	require.Equal(b, m.Text, strings.ReplaceAll(ms.Mail()[b.N-1].Text, "\r\n", "\n"))
}
