package sms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
)

func delivery(t *testing.T, m sms.Message) outbound.Delivery {
	b, err := m.Payload()
	require.NoError(t, err)
	return outbound.Delivery{Tenant: "jeongeup", ID: 1, Message: outbound.Message{Channel: outbound.SMS, Key: "requests-1", Payload: b}}
}

func TestSENS(t *testing.T) {
	t.Parallel()
	srv := outboundtest.StartSENS(t)
	cfg := srv.Config()
	s, err := sms.NewSENS(cfg)
	require.NoError(t, err)
	answer, err := s.Send(context.Background(), delivery(t, sms.Message{To: "010-1234-5678", Text: "[정읍시립도서관] 개인정보 열람 요구(R-2026-000001)의 결정 통지서가 발급되었습니다. 처리 상태 확인에서 보실 수 있습니다."}))
	require.NoError(t, err)
	require.Contains(t, answer, "requestId=RSSA-1")
	got := srv.Messages()[0]
	require.Equal(t, "LMS", got["type"], "longer than 90 bytes")
	require.Equal(t, "0635396400", got["from"])
	require.Equal(t, []any{map[string]any{"to": "01012345678"}}, got["messages"])

	// A wrong key is refused for good; an outage is retried.
	cfg.SecretKey = "WRONG"
	bad, err := sms.NewSENS(cfg)
	require.NoError(t, err)
	_, err = bad.Send(context.Background(), delivery(t, sms.Message{To: "01012345678", Text: "짧음"}))
	require.Error(t, err)
	require.True(t, outbound.IsPermanent(err))
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	cfg.BaseURL, cfg.SecretKey = down.URL, "SECRET"
	flaky, err := sms.NewSENS(cfg)
	require.NoError(t, err)
	_, err = flaky.Send(context.Background(), delivery(t, sms.Message{To: "01012345678", Text: "짧음"}))
	require.Error(t, err)
	require.False(t, outbound.IsPermanent(err))

	_, err = sms.NewSENS(sms.SENSConfig{BaseURL: srv.URL})
	require.ErrorContains(t, err, "PIPA_SMS_SENS_ACCESS_KEY")
}

func TestLogSendsNothing(t *testing.T) {
	t.Parallel()
	answer, err := sms.Log{}.Send(context.Background(), delivery(t, sms.Message{To: "010-1234-5678", Text: "안내"}))
	require.NoError(t, err)
	require.Contains(t, answer, "not sent")
	require.Equal(t, "*******5678", sms.Mask("010-1234-5678"))
}

// A mobile number in its usual forms is read as its digits from 0, which SENS takes with country
// code 82; a landline, a short number or a foreign one is not a mobile number.
func TestMobile(t *testing.T) {
	for in, want := range map[string]string{
		"010-1234-5678": "01012345678", "01012345678": "01012345678", "+82 10-1234-5678": "01012345678",
		"+82 010 1234 5678": "01012345678", "+821012345678": "01012345678", "016-987-6543": "0169876543",
	} {
		got, ok := sms.Mobile(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "063-539-6000", "010-555-6666", "010-1234-56789", "+1 202 555 0100", "8210-1234-5678", "010-1234-567x"} {
		_, ok := sms.Mobile(in)
		require.False(t, ok, in)
	}
}

// Bytes counts as the carriers do: ASCII one byte, anything else (Hangul) two.
func TestBytes(t *testing.T) {
	require.Equal(t, 0, sms.Bytes(""))
	require.Equal(t, 3, sms.Bytes("abc"))
	require.Equal(t, 4, sms.Bytes("가나"))
	require.Equal(t, 7, sms.Bytes("a가 나\n"))
}
