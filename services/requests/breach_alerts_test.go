package requests_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/services/requests"
)

// PIPA-34-1: a breach whose 72-hour notice clock stands at D-24h, and one whose clock has run out,
// each alert the unit's officers by mail once however often the job runs; a breach known an hour
// ago alerts nobody yet.
func TestBreachClockAlertsOfficersOnce(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	_, err := s.Registry.CreateOfficer(s.Admin(), &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "kim",
		Officer: &registryv1.Officer{DisplayName: "김민수", Title: "주무관", Email: "kim@jeongeup.go.kr",
			Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF}}})
	require.NoError(t, err)
	cpo := s.As(auth.RoleCPO, libraryUnit)
	register := func(ago time.Duration) *requestsv1.Breach {
		b, err := s.breaches().CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &requestsv1.Breach{
			Type: requestsv1.BreachType_BREACH_TYPE_LOSS_THEFT, KnownTime: timestamppb.New(time.Now().Add(-ago)),
			Cause: requestsv1.BreachCause_BREACH_CAUSE_LOSS_THEFT, SubjectCount: 40, Circumstances: "대출 기록 출력물 분실"}})
		require.NoError(t, err)
		return b
	}
	late, soon := register(72*time.Hour+30*time.Minute), register(50*time.Hour)
	register(time.Hour)

	jobs, err := river.NewClient(riverpgxv5.New(s.DB()), &river.Config{Schema: "requests"}) // inserts only
	require.NoError(t, err)
	for range 2 {
		_, err = jobs.Insert(context.Background(), requests.AlertArgs{}, nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 2 }, 60*time.Second, 100*time.Millisecond)
	subjects := map[string]string{}
	for _, m := range smtpd.Mail() {
		require.Equal(t, []string{"kim@jeongeup.go.kr"}, m.To)
		subjects[m.Subject] = m.Text
	}
	var gotLate, gotSoon bool
	for subject, text := range subjects {
		switch {
		case strings.Contains(subject, late.GetName()):
			gotLate = true
			require.Contains(t, subject, "정보주체 통지 기한 경과")
			require.Contains(t, text, "PIPA-34-1")
		case strings.Contains(subject, soon.GetName()):
			gotSoon = true
			require.Contains(t, subject, "정보주체 통지 기한 임박")
			require.Contains(t, text, "24시간 안에 다가왔습니다")
		}
	}
	require.True(t, gotLate && gotSoon, "%v", subjects)

	// Again: nothing new.
	_, err = jobs.Insert(context.Background(), requests.AlertArgs{}, nil)
	require.NoError(t, err)
	require.Never(t, func() bool { return len(smtpd.Mail()) > 2 }, 3*time.Second, 200*time.Millisecond)
}
