package registry_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// DEC-34-1: a registration five days from its 60th day (D-7) and one past it mail the unit's
// officers and the tenant's CPOs, each alert once however often the job runs; the seed's duties
// with no last day mail nothing.
func TestRegisterDueAlertsMailOnce(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15))
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: seongnamUnit, OfficerId: "kim",
		Officer: &registryv1.Officer{DisplayName: "김민수", Title: "주무관", Email: "kim@seongnam.go.kr",
			Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.NoError(t, err)
	for file, days := range map[string]int{seongnamFile: -55, seongnamFile2: -61} {
		_, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: file,
			Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: registrytest.InDays(days)}})
		require.NoError(t, err)
	}

	jobs, err := river.NewClient(riverpgxv5.New(s.DB()), &river.Config{Schema: "registry"}) // inserts only
	require.NoError(t, err)
	for range 2 {
		_, err = jobs.Insert(context.Background(), registry.RegisterAlertArgs{}, nil)
		require.NoError(t, err)
	}
	toKim := func() []string {
		var subjects []string
		for _, m := range smtpd.Mail() {
			if slices.Contains(m.To, "kim@seongnam.go.kr") {
				subjects = append(subjects, m.Subject)
			}
		}
		slices.Sort(subjects)
		return subjects
	}
	require.Eventually(t, func() bool { return len(toKim()) == 2 }, 30*time.Second, 100*time.Millisecond)
	subjects := toKim()
	require.True(t, strings.HasPrefix(subjects[0], "[기한 경과] 개인정보파일 등록"), subjects[0])
	require.Contains(t, subjects[0], registrytest.InDays(-1))
	require.True(t, strings.HasPrefix(subjects[1], "[기한 임박] 개인정보파일 등록"), subjects[1])
	require.Contains(t, subjects[1], registrytest.InDays(5))
	var body string
	for _, m := range smtpd.Mail() {
		if strings.Contains(m.Subject, "기한 임박") {
			body = m.Text
		}
	}
	require.Contains(t, body, "DEC-34-1")
	require.Contains(t, body, "D-5")

	// Again: nothing new.
	sent := len(smtpd.Mail())
	_, err = jobs.Insert(context.Background(), registry.RegisterAlertArgs{}, nil)
	require.NoError(t, err)
	require.Never(t, func() bool { return len(smtpd.Mail()) > sent }, 3*time.Second, 200*time.Millisecond)
}
